"""The variants of one model that ``zoo bench`` compares: eager fp32, bf16, torch.compile and int8.

A variant that cannot run here (bf16 on a device without it, int8 without
zoo-compress or off the CPU, torch.compile without a C++ compiler) is kept in
the table with the reason, so the table always has the same columns.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch

from zoo_registry import UnknownComponentError, ZooError, get_registry, load_object

from .._compile import describe_error

VARIANTS = ("eager", "bf16", "compile", "int8")
INT8_COMPRESSOR = "int8-dynamic"


@dataclass
class Variant:
    """One way to run the model: the module (None when unavailable) and the dtype of its floating inputs."""

    name: str
    model: torch.nn.Module | None
    dtype: torch.dtype = torch.float32
    reason: str | None = None
    """Why the variant is unavailable, or None."""

    def inputs(self, tensor: torch.Tensor) -> torch.Tensor:
        """Return ``tensor`` as this variant takes it: floating inputs in its dtype, ids unchanged."""
        return tensor.to(self.dtype) if tensor.is_floating_point() else tensor


def _unavailable(name: str, reason: str) -> Variant:
    return Variant(name, None, reason=reason)


def _bf16(model: torch.nn.Module, device: torch.device) -> Variant:
    try:
        probe = torch.ones(2, 2, device=device, dtype=torch.bfloat16)
        (probe @ probe).sum().item()
    except (RuntimeError, TypeError) as error:
        return _unavailable("bf16", f"{device.type} has no bfloat16 matrix multiply ({describe_error(error)})")
    return Variant("bf16", copy.deepcopy(model).to(torch.bfloat16).eval(), dtype=torch.bfloat16)


def _compiled(model: torch.nn.Module) -> Variant:
    if not hasattr(torch, "compile"):
        return _unavailable("compile", f"torch {torch.__version__} has no torch.compile")
    compiled = copy.deepcopy(model).eval()
    # Compiling the bound forward keeps the module's other methods, such as generate, which then
    # run the compiled forward. Compilation happens on the first call, during warm-up.
    compiled.forward = torch.compile(compiled.forward)
    return Variant("compile", compiled)


def _int8(model: torch.nn.Module, info: dict[str, Any], device: torch.device) -> Variant:
    try:
        component = get_registry().resolve("compressor", INT8_COMPRESSOR)
    except UnknownComponentError:
        return _unavailable("int8", "needs the zoo-compress plugin: pip install zoo-compress")
    if device.type != "cpu":
        return _unavailable("int8", f"{INT8_COMPRESSOR} runs on the CPU only; run zoo bench with --device cpu")
    options = load_object(component.spec.config)() if component.spec.config else None
    compressor = load_object(component.spec.target)(options)
    quantized = copy.deepcopy(model).cpu()
    try:
        compressor.check(quantized, info)
    except ZooError as error:
        return _unavailable("int8", str(error))
    return Variant("int8", compressor.apply(quantized).eval())


def build_variants(model: torch.nn.Module, info: dict[str, Any], names: list[str], device: torch.device) -> list[Variant]:
    """Return the requested variants of ``model`` (already on ``device``), in the order of ``names``."""
    variants = []
    for name in names:
        if name == "eager":
            dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
            variants.append(Variant("eager", model.eval(), dtype=dtype))
        elif name == "bf16":
            variants.append(_bf16(model, device))
        elif name == "compile":
            variants.append(_compiled(model))
        elif name == "int8":
            variants.append(_int8(model, info, device))
        else:
            raise ValueError(f"unknown variant {name!r}")
    return variants


def compile_failure(error: BaseException) -> str:
    """Return the one-line reason shown when torch.compile fails on the first call."""
    return f"torch.compile failed on this platform, so the variant was skipped ({describe_error(error)})"
