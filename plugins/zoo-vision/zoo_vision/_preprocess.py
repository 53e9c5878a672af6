"""Reading image files and the preprocessing record that training and prediction share.

Training and ``zoo predict`` both go through ``read_image`` and
``Preprocessing.normalize``, so an image is resized, scaled and normalized
the same way in both. The record is saved as JSON beside the weights.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import asdict, dataclass
from io import BytesIO
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from zoo_registry import DataError

ARTIFACT_FILE = "preprocessing.json"

_RESAMPLING = {"box": Image.Resampling.BOX, "bilinear": Image.Resampling.BILINEAR}
# Pillow raises these for files it cannot decode: UnidentifiedImageError and truncated data are
# OSErrors, some format plugins raise SyntaxError or ValueError, and oversized images raise
# DecompressionBombError.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)


@dataclass
class Preprocessing:
    """Preprocessing record of an image dataset: the steps from image file to model input, saved for ``zoo predict``."""

    class_names: list[str]
    in_channels: int
    image_size: int
    resize: str
    """``stretch`` or ``center-crop``."""
    resample: str
    """Pillow resampling filter: ``box`` or ``bilinear``."""
    mean: list[float] | None
    std: list[float] | None
    """Per-channel statistics applied after scaling pixels to [0, 1]; None only until a dataset computes them."""

    def normalize(self, pixels: torch.Tensor) -> torch.Tensor:
        """Return ``(pixels - mean) / std`` for float pixels (..., C, H, W) with values in [0, 1]."""
        mean, std = _statistics_tensors(tuple(self.mean), tuple(self.std))
        return (pixels - mean) / std

    def load_image(self, path: str | Path) -> torch.Tensor:
        """Read one image file and return the normalized float tensor (in_channels, image_size, image_size)."""
        pixels = read_image(path, self.in_channels, self.image_size, self.resize, self.resample)
        return self.normalize(pixels.float() / 255)

    def write(self, folder: Path) -> str:
        """Write the record as JSON into ``folder`` through a temporary file; return the file name."""
        target = Path(folder) / ARTIFACT_FILE
        temporary = target.with_name(f".{ARTIFACT_FILE}.tmp")
        temporary.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, target)
        return ARTIFACT_FILE

    @classmethod
    def read(cls, folder: str | Path) -> "Preprocessing":
        """Read the record that ``write`` left in ``folder``; raise ``DataError`` when it is missing or malformed."""
        path = Path(folder) / ARTIFACT_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataError(f"{path} is missing; it records how images were preprocessed in training, "
                            f"so train the entry again to write it") from None
        except (OSError, ValueError) as error:
            raise DataError(f"cannot read {path}: {error}; train the entry again to rewrite it") from None
        expected = set(cls.__dataclass_fields__)
        if not isinstance(data, dict) or set(data) != expected:
            found = sorted(data) if isinstance(data, dict) else type(data).__name__
            raise DataError(f"{path} is malformed: expected the keys {sorted(expected)}, found {found}; "
                            f"train the entry again to rewrite it")
        return cls(**data)


@functools.lru_cache(maxsize=16)
def _statistics_tensors(mean: tuple[float, ...], std: tuple[float, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """Return mean and std as (C, 1, 1) tensors; cached because normalization runs once per training item."""
    return torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1), torch.tensor(std, dtype=torch.float32).view(-1, 1, 1)


def read_bytes(path: str | Path) -> bytes:
    """Return the contents of an image file; raise ``DataError`` naming the file when it cannot be read."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise DataError(f"cannot read image {path}: the file does not exist") from None
    except IsADirectoryError:
        raise DataError(f"cannot read image {path}: it is a folder, not an image file") from None
    except OSError as error:
        raise DataError(f"cannot read image {path}: {error.strerror or error}") from None


def read_image(source: str | Path | bytes, channels: int, image_size: int, resize: str, resample: str,
               name: str | None = None) -> torch.Tensor:
    """Decode an image file (or its bytes) with Pillow and return uint8 pixels (channels, image_size, image_size).

    ``resize`` is ``stretch`` (ignore the aspect ratio) or ``center-crop``
    (scale the shorter side, keep the middle square). Raise ``DataError``
    naming the file when it cannot be read or decoded.
    """
    name = name or ("image bytes" if isinstance(source, bytes) else str(source))
    data = source if isinstance(source, bytes) else read_bytes(source)
    try:
        with Image.open(BytesIO(data)) as image:
            image.load()  # Image.open only reads the header; decode now so broken data fails here
            image = image.convert("L" if channels == 1 else "RGB")
    except _DECODE_ERRORS as error:
        raise DataError(f"cannot decode image {name}: {error}; pass a PNG, JPEG or another format that "
                        f"Pillow reads") from None
    size = (image_size, image_size)
    if resize == "center-crop":
        image = ImageOps.fit(image, size, method=_RESAMPLING[resample])
    elif image.size != size:
        image = image.resize(size, _RESAMPLING[resample])
    array = np.asarray(image, dtype=np.uint8).reshape(image_size, image_size, channels)
    return torch.from_numpy(array.copy()).permute(2, 0, 1)  # (H, W, C) -> (C, H, W)


__all__ = ["ARTIFACT_FILE", "Preprocessing", "read_bytes", "read_image"]
