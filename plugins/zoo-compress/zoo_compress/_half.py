"""Half-precision weights: bf16 or fp16."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from zoo_registry import ZooError

from ._modules import architecture_name
from .options import HalfOptions

__all__ = ["Half"]

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def _cast_inputs(dtype: torch.dtype):
    def hook(module: nn.Module, args: tuple) -> tuple:
        # Floating-point inputs (images, features) must match the weights; token ids stay integers.
        return tuple(a.to(dtype) if torch.is_tensor(a) and a.is_floating_point() else a for a in args)
    return hook


class Half:
    """The ``half`` compressor: casts floating-point parameters and buffers, and the model's floating-point inputs."""

    def __init__(self, options: HalfOptions):
        self.options = options
        self.dtype = _DTYPES[options.dtype]

    def check(self, model: nn.Module, info: dict[str, Any]) -> None:
        """Raise ``ZooError`` when the model has no floating-point weights left to cast."""
        if not any(p.is_floating_point() and p.dtype == torch.float32 for p in model.parameters()):
            raise ZooError(f"half found no float32 parameters in {architecture_name(model)} to cast to "
                           f"{self.options.dtype}; it may already be in half precision or quantized")

    def apply(self, model: nn.Module, context: Any = None) -> nn.Module:
        """Cast the model and return it; outputs come back in the half dtype."""
        model = model.to(self.dtype)
        model.register_forward_pre_hook(_cast_inputs(self.dtype))
        return model

    def restore(self, model: nn.Module, info: dict[str, Any]) -> nn.Module:
        return self.apply(model)
