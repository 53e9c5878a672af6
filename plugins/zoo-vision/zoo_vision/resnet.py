"""The ``resnet`` architecture: a small residual network for 8x8 to 64x64 images."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ._layers import make_activation, make_norm, read_info
from .options import ResNetOptions


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a shortcut; a 1x1 convolution matches the shortcut when the shape changes."""

    def __init__(self, options: ResNetOptions, channels_in: int, channels: int, stride: int):
        super().__init__()
        bias = options.norm == "none"
        self.conv1 = nn.Conv2d(channels_in, channels, 3, stride=stride, padding=1, bias=bias)
        self.norm1 = make_norm(options.norm, channels, options.norm_groups)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=bias)
        self.norm2 = make_norm(options.norm, channels, options.norm_groups)
        self.activation = make_activation(options.activation)
        if hasattr(self.norm2, "weight"):
            # With the last norm's scale at zero each block starts as the identity map, which keeps early
            # training of deeper stacks stable.
            nn.init.zeros_(self.norm2.weight)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or channels_in != channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(channels_in, channels, 1, stride=stride, bias=bias),
                make_norm(options.norm, channels, options.norm_groups),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.activation(self.norm1(self.conv1(x)))
        out = self.norm2(self.conv2(out))
        return self.activation(out + self.shortcut(x))


class ResNet(nn.Module):
    """Stem, stages of ``BasicBlock`` and a global-average-pooled linear classifier."""

    def __init__(self, options: ResNetOptions, in_channels: int, num_classes: int):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, options.width, 3, stride=options.stem_stride, padding=1, bias=options.norm == "none"),
            make_norm(options.norm, options.width, options.norm_groups),
            make_activation(options.activation),
        )
        stages = []
        channels_in = options.width
        for index, n_blocks in enumerate(options.blocks):
            channels = options.width * 2**index
            # A stride-2 convolution with padding 1 maps 1x1 to 1x1, so small images never shrink to nothing.
            stride = 1 if index == 0 else 2
            blocks = [BasicBlock(options, channels_in, channels, stride)]
            blocks += [BasicBlock(options, channels, channels, 1) for _ in range(n_blocks - 1)]
            stages.append(nn.Sequential(*blocks))
            channels_in = channels
        self.stages = nn.Sequential(*stages)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(options.dropout),
                                  nn.Linear(channels_in, num_classes))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.stages(self.stem(images))  # (B, C, H, W) -> (B, width * 2**(stages-1), H', W')
        return self.head(features)  # (B, num_classes)


def build_resnet(options: ResNetOptions, info: dict[str, Any]) -> ResNet:
    """Build the ResNet for the dataset's channels and classes; any image size works because the head pools."""
    in_channels, _, num_classes = read_info(info, "resnet")
    return ResNet(options, in_channels, num_classes)


__all__ = ["BasicBlock", "ResNet", "build_resnet"]
