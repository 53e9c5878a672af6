"""Recipe options of the compressors, one dataclass per compressor (a step of the recipe's ``compress`` list).

This module must not import torch: ``zoo validate`` and ``zoo list`` load these
classes to check recipes without building anything. Checks that involve two
fields at once run in ``__post_init__`` and raise ``ValidationError``.

Some options are filled in by ``zoo compress`` when it stores an entry
(``pruned_units``, ``ranks``): they record the shapes that a step chose, so
loading the entry rebuilds exactly those shapes before reading the weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zoo_registry import Problem, ValidationError, option

__all__ = ["DistillOptions", "HalfOptions", "Int8DynamicOptions", "LowRankOptions", "PruneOptions",
           "QUANTIZABLE_LAYERS"]

QUANTIZABLE_LAYERS = ("linear", "lstm", "gru")

# Options are built from a recipe step, so problems found across fields name the
# step's field; the step's index is not known here.
_RECIPE = "recipe"


def _raise(problems: list[Problem]) -> None:
    if problems:
        raise ValidationError(problems)


@dataclass
class Int8DynamicOptions:
    """Dynamic int8 quantization: int8 weights, activations quantized per batch at run time (CPU only)."""

    layers: list[str] = option(list(QUANTIZABLE_LAYERS), help="Kinds of layers to quantize: linear, lstm, gru.")
    skip: list[str] = option([], help="Module names (fnmatch patterns such as 'lm_head' or '*.c_attn') to keep "
                                      "in floating point. Layers whose weight is shared with an embedding always "
                                      "stay in floating point.")
    per_channel: bool = option(True, help="One scale per output row of each weight matrix; false uses one scale "
                                          "per matrix.")

    def __post_init__(self) -> None:
        unknown = [name for name in self.layers if name not in QUANTIZABLE_LAYERS]
        problems = []
        if unknown:
            problems.append(Problem(_RECIPE, "compress.layers", f"contains {unknown}; use any of "
                                    f"{', '.join(QUANTIZABLE_LAYERS)}"))
        if not self.layers:
            problems.append(Problem(_RECIPE, "compress.layers", f"is empty; name at least one of "
                                    f"{', '.join(QUANTIZABLE_LAYERS)}"))
        _raise(problems)


@dataclass
class PruneOptions:
    """Magnitude pruning: zero the smallest weights (unstructured) or remove whole neurons and channels (structured)."""

    sparsity: float = option(0.5, help="Fraction of the weights (unstructured) or of the units of each layer "
                                       "(structured) to remove.", min=0, max=1, min_exclusive=True, max_exclusive=True)
    method: str = option("unstructured", help="unstructured zeroes single weights and keeps the shapes; structured "
                                              "removes output neurons of linear layers and output channels of "
                                              "convolutions, shrinking the tensors.",
                         choices=("unstructured", "structured"))
    scope: str = option("global", help="Unstructured only: global ranks all pruned weights together, layer prunes "
                                       "each weight matrix to the sparsity.", choices=("global", "layer"))
    skip: list[str] = option([], help="Module names (fnmatch patterns) whose weights are not pruned. Weights shared "
                                      "with an embedding are never pruned.")
    finetune_steps: int = option(0, help="Training steps after pruning, through the entry's own trainer and the "
                                         "runner; pruned weights stay zero.", min=0)
    finetune_lr: float = option(3e-4, help="Peak learning rate of the fine-tuning steps.", min=0, min_exclusive=True)
    pruned_units: list[dict[str, Any]] = option([], help="Filled in by zoo compress for structured pruning: each "
                                                         "pruned layer, the layers that read it and the units kept, "
                                                         "so loading rebuilds the same shapes. Leave empty.")

    def __post_init__(self) -> None:
        if self.method == "structured" and self.scope != "global":
            _raise([Problem(_RECIPE, "compress.scope", f"is {self.scope!r}, but structured pruning always prunes "
                                                       f"each layer to the sparsity; remove scope or use "
                                                       f"method: unstructured")])


@dataclass
class DistillOptions:
    """Knowledge distillation: train the recipe's model (the student) to match a teacher entry's outputs.

    The student trains with the recipe's ``train`` section (steps, batch size, learning rate), so the
    distilled entry and a student trained from scratch differ only in the loss.
    """

    teacher: str | None = option(None, help="Entry whose outputs the student learns (name or name@version); null "
                                            "uses the recipe's base entry.")
    temperature: float = option(2.0, help="Softmax temperature of the soft targets; the soft loss is scaled by "
                                          "temperature squared so its gradients keep their size.", min=0,
                                min_exclusive=True)
    alpha: float = option(0.5, help="Weight of the soft-target loss; the trainer's hard-label loss gets 1 - alpha.",
                          min=0, max=1)


@dataclass
class LowRankOptions:
    """Truncated-SVD factorization of linear layers: W (out x in) becomes U (out x r) times V (r x in)."""

    rank: int | None = option(None, help="Rank of every factorized layer; set rank or energy.", min=1)
    energy: float | None = option(None, help="Smallest rank per layer keeping this fraction of the squared singular "
                                             "values; set rank or energy.", min=0, max=1, min_exclusive=True)
    skip: list[str] = option([], help="Module names (fnmatch patterns) not to factorize. Layers whose weight is "
                                      "shared with an embedding are never factorized.")
    finetune_steps: int = option(0, help="Training steps after factorizing, through the entry's own trainer and "
                                         "the runner.", min=0)
    finetune_lr: float = option(3e-4, help="Peak learning rate of the fine-tuning steps.", min=0, min_exclusive=True)
    ranks: dict[str, int] = option({}, help="Filled in by zoo compress: the rank chosen for each factorized layer, "
                                            "so loading rebuilds the same shapes. Leave empty.")

    def __post_init__(self) -> None:
        if (self.rank is None) == (self.energy is None) and not self.ranks:
            given = "both" if self.rank is not None else "neither"
            _raise([Problem(_RECIPE, "compress.rank", f"{given} of rank and energy is set; set exactly one, for "
                                                      f"example rank: 32 or energy: 0.9")])


@dataclass
class HalfOptions:
    """Half-precision weights: every floating-point parameter and buffer becomes bf16 or fp16."""

    dtype: str = option("bf16", help="bf16 keeps fp32's range with fewer mantissa bits; fp16 has more precision "
                                     "but overflows above 65504.", choices=("bf16", "fp16"))
