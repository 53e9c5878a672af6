"""Training augmentations: torchvision transforms when torchvision is installed, plain tensor ops otherwise.

Both paths take and return a float tensor (C, H, W) with values in [0, 1]
and draw from torch's global random generator, which the runner seeds.
"""

from __future__ import annotations

import importlib.util
import logging
import math
from typing import Callable

import torch
import torch.nn.functional as F

logger = logging.getLogger(__name__)

Augment = Callable[[torch.Tensor], torch.Tensor]


def build_augment(horizontal_flip: bool = False, crop_padding: int = 0, rotation_degrees: float = 0.0) -> Augment | None:
    """Return a function that applies the enabled augmentations in order, or None when none are enabled."""
    if not (horizontal_flip or crop_padding or rotation_degrees):
        return None
    if importlib.util.find_spec("torchvision") is not None:
        logger.info("augmenting training images with torchvision transforms")
        return _torchvision_augment(horizontal_flip, crop_padding, rotation_degrees)
    logger.debug("torchvision is not installed; augmenting training images with plain tensor operations")
    return _TensorAugment(horizontal_flip, crop_padding, rotation_degrees)


def _torchvision_augment(horizontal_flip: bool, crop_padding: int, rotation_degrees: float) -> Augment:
    # NOTE: torchvision is not installed in zoo's development environment, so the tests exercise only
    # the plain tensor path below. This path follows the documented torchvision.transforms.v2 API.
    from torchvision.transforms import v2

    steps = []
    if horizontal_flip:
        steps.append(v2.RandomHorizontalFlip())
    if crop_padding:
        steps.append(_PaddedCrop(crop_padding))
    if rotation_degrees:
        steps.append(v2.RandomRotation(rotation_degrees))
    return v2.Compose(steps)


class _PaddedCrop:
    """Pad with zeros, then cut a random crop of the original size (``v2.RandomCrop`` needs the size up front)."""

    def __init__(self, padding: int):
        self.padding = padding

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        return random_padded_crop(image, self.padding)


class _TensorAugment:
    def __init__(self, horizontal_flip: bool, crop_padding: int, rotation_degrees: float):
        self.horizontal_flip = horizontal_flip
        self.crop_padding = crop_padding
        self.rotation_degrees = rotation_degrees

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        if self.horizontal_flip and torch.rand(()) < 0.5:
            image = image.flip(-1)
        if self.crop_padding:
            image = random_padded_crop(image, self.crop_padding)
        if self.rotation_degrees:
            angle = (torch.rand(()).item() * 2 - 1) * self.rotation_degrees
            image = rotate(image, angle)
        return image


def random_padded_crop(image: torch.Tensor, padding: int) -> torch.Tensor:
    """Pad (C, H, W) with ``padding`` zeros on every side and return a random crop of size (H, W)."""
    _, height, width = image.shape
    padded = F.pad(image, (padding, padding, padding, padding))
    top, left = torch.randint(0, 2 * padding + 1, (2,)).tolist()
    return padded[:, top:top + height, left:left + width]


def rotate(image: torch.Tensor, degrees: float) -> torch.Tensor:
    """Rotate (C, H, W) counterclockwise about its center by ``degrees``, bilinear, filling with zeros."""
    radians = math.radians(degrees)
    cos, sin = math.cos(radians), math.sin(radians)
    # affine_grid maps output to input coordinates, so the matrix is the inverse (clockwise) rotation.
    theta = torch.tensor([[cos, -sin, 0.0], [sin, cos, 0.0]], dtype=image.dtype).unsqueeze(0)
    grid = F.affine_grid(theta, [1, *image.shape], align_corners=False)
    return F.grid_sample(image.unsqueeze(0), grid, mode="bilinear", padding_mode="zeros",
                         align_corners=False).squeeze(0)
