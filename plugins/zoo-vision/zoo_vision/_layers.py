"""Layer factories shared by the CNN and the ResNet."""

from __future__ import annotations

from torch import nn

from zoo_registry import Problem, ValidationError

_ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU}


def make_activation(name: str) -> nn.Module:
    return _ACTIVATIONS[name]()


def make_norm(name: str, channels: int, groups: int) -> nn.Module:
    """Return the normalization named by the options; ``none`` is an identity."""
    if name == "batch":
        return nn.BatchNorm2d(channels)
    if name == "group":
        return nn.GroupNorm(groups, channels)
    return nn.Identity()


def read_info(info: dict, architecture: str) -> tuple[int, int, int]:
    """Return (in_channels, image_size, num_classes) from a dataset's info, or raise naming the missing key."""
    missing = [key for key in ("in_channels", "image_size", "num_classes") if key not in info]
    if missing:
        raise ValidationError([Problem(
            "recipe", "data.dataset",
            f"the dataset's info() lacks {', '.join(missing)}, which the {architecture} architecture needs; "
            f"use an image dataset such as digits or image-folder")])
    return int(info["in_channels"]), int(info["image_size"]), int(info["num_classes"])
