"""The ``cnn`` architecture: conv → norm → activation → pooling blocks and a classifier head."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from zoo_registry import Problem, ValidationError

from ._layers import make_activation, make_norm, read_info
from .options import CNNOptions


class CNN(nn.Module):
    """A plain convolutional classifier; the feature blocks are ``features``, the classifier is ``head``."""

    def __init__(self, options: CNNOptions, in_channels: int, image_size: int, num_classes: int):
        super().__init__()
        blocks = []
        size = image_size
        channels_in = in_channels
        for index, (channels, kernel_size) in enumerate(zip(options.channels, options.kernel_sizes)):
            layers: list[nn.Module] = [
                # A norm layer has its own shift, so the convolution's bias would be redundant.
                nn.Conv2d(channels_in, channels, kernel_size, padding=kernel_size // 2, bias=options.norm == "none"),
                make_norm(options.norm, channels, options.norm_groups),
                make_activation(options.activation),
            ]
            if options.pooling != "none":
                if size < 2:
                    raise ValidationError([Problem(
                        "recipe", "model.channels",
                        f"block {index + 1} of {len(options.channels)} would pool a {size}x{size} feature map, "
                        f"because each block halves the {image_size}x{image_size} input; use fewer blocks, larger "
                        f"images or pooling: none")])
                layers.append(nn.MaxPool2d(2) if options.pooling == "max" else nn.AvgPool2d(2))
                size //= 2
            blocks.append(nn.Sequential(*layers))
            channels_in = channels
        self.features = nn.Sequential(*blocks)

        if options.global_pool:
            features = channels_in
            head: list[nn.Module] = [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        else:
            features = channels_in * size * size
            head = [nn.Flatten()]
        if options.hidden_size:
            head += [nn.Dropout(options.dropout), nn.Linear(features, options.hidden_size),
                     make_activation(options.activation)]
            features = options.hidden_size
        head += [nn.Dropout(options.dropout), nn.Linear(features, num_classes)]
        self.head = nn.Sequential(*head)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.features(images)  # (B, C, H, W) -> (B, channels[-1], H', W')
        return self.head(features)  # (B, num_classes)


def build_cnn(options: CNNOptions, info: dict[str, Any]) -> CNN:
    """Build the CNN for the dataset's channels, image size and classes (from ``Dataset.info()``)."""
    in_channels, image_size, num_classes = read_info(info, "cnn")
    return CNN(options, in_channels, image_size, num_classes)


__all__ = ["CNN", "build_cnn"]
