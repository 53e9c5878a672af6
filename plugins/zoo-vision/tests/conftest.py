"""Fixtures of the zoo-vision tests: real digit images written as PNG files, one folder per class."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits

IMAGES_PER_CLASS = 12


def _digit_png(pixels: np.ndarray, upscale: int = 1) -> Image.Image:
    """Return an 8x8 digit (values 0..16) as a grayscale image, optionally enlarged by repeating pixels."""
    values = np.round(pixels * 255 / 16).astype(np.uint8)
    if upscale > 1:
        values = values.repeat(upscale, axis=0).repeat(upscale, axis=1)
    return Image.fromarray(values)


@pytest.fixture(scope="session")
def digit_png():
    """Return the function that turns an 8x8 digit array into a Pillow image."""
    return _digit_png


@pytest.fixture(scope="session")
def digits_bunch():
    return load_digits()


@pytest.fixture
def digit_folder(tmp_path, digits_bunch) -> Path:
    """Write the first 12 images of the digits 0, 1 and 2 as PNGs under ``root/<digit>/``.

    Every third image is stored at 16x16 and saved as RGB, so the dataset has
    to resize and convert it.
    """
    root = tmp_path / "digit-pngs"
    for digit in (0, 1, 2):
        folder = root / str(digit)
        folder.mkdir(parents=True)
        indices = np.flatnonzero(digits_bunch.target == digit)[:IMAGES_PER_CLASS]
        for number, index in enumerate(indices):
            if number % 3 == 2:
                _digit_png(digits_bunch.images[index], upscale=2).convert("RGB").save(folder / f"{number:02d}.png")
            else:
                _digit_png(digits_bunch.images[index]).save(folder / f"{number:02d}.png")
    return root
