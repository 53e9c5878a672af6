"""The ``digits`` dataset: scikit-learn's bundled 8x8 handwritten digits, 1,797 images of 10 classes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch

from ._augment import build_augment
from ._base import ImageClassificationData, LoadedImages
from ._preprocess import Preprocessing
from .options import DigitsOptions

CLASS_NAMES = [str(digit) for digit in range(10)]
IMAGE_SIZE = 8
# Pixel values in scikit-learn's copy count inked pixels in 4x4 blocks of a 32x32 bitmap, so they run
# from 0 (background) to 16 (all ink). An image file read for prediction is shrunk with a box filter,
# which averages blocks the same way. Bright pixels are ink, as in the training data.
MAX_VALUE = 16


class DigitsDataset(ImageClassificationData):
    """The digits as (1, 8, 8) images with a fixed, seeded train/val/test split stratified by class.

    Reads nothing from disk except scikit-learn's bundled copy, so it works offline.
    """

    def __init__(self, options: DigitsOptions, artifacts: str | Path | None = None):
        super().__init__(artifacts)
        self.options = options
        self.val_fraction = options.val_fraction
        self.test_fraction = options.test_fraction
        self.split_seed = options.split_seed
        self.augment = build_augment(crop_padding=options.random_shift)

    def _class_names(self) -> list[str]:
        return list(CLASS_NAMES)

    def _preprocessing_without_statistics(self) -> Preprocessing:
        return Preprocessing(class_names=list(CLASS_NAMES), in_channels=1, image_size=IMAGE_SIZE, resize="stretch",
                             resample="box", mean=None, std=None)

    def _load(self) -> LoadedImages:
        from sklearn.datasets import load_digits

        digits = load_digits()
        images = np.ascontiguousarray(digits.images, dtype="<f8")  # (1797, 8, 8), whole numbers 0..16
        labels = np.ascontiguousarray(digits.target, dtype="<i8")
        digest = hashlib.sha256(images.tobytes() + labels.tobytes()).hexdigest()
        pixels = torch.from_numpy(images.astype(np.uint8)).unsqueeze(1)  # (N, 8, 8) -> (N, 1, 8, 8)
        return LoadedImages(pixels=pixels, labels=torch.from_numpy(labels), scale=MAX_VALUE,
                            fingerprint={"sklearn-digits": digest})


__all__ = ["DigitsDataset"]
