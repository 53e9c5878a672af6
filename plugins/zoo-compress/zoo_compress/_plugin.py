"""Declarations of the components this plugin provides. Importing this module must stay cheap.

Neither this module nor ``zoo_compress.options`` imports torch; the targets are
imported only when a compressor runs or a compressed entry is loaded.
"""

from __future__ import annotations

from zoo_registry import ComponentSpec, hookimpl

_OPTIONS = "zoo_compress.options"


@hookimpl
def zoo_components() -> list[ComponentSpec]:
    return [
        ComponentSpec("int8-dynamic", "compressor", "zoo_compress._int8:Int8Dynamic", "",
                      "Dynamic int8 quantization of Linear, LSTM and GRU layers for CPU inference",
                      f"{_OPTIONS}:Int8DynamicOptions"),
        ComponentSpec("prune", "compressor", "zoo_compress._prune:Prune", "",
                      "Magnitude pruning, unstructured or structured (neurons, channels), with optional fine-tuning",
                      f"{_OPTIONS}:PruneOptions"),
        ComponentSpec("distill", "compressor", "zoo_compress._distill:Distill", "",
                      "Knowledge distillation of a teacher entry into the recipe's model (soft and hard targets)",
                      f"{_OPTIONS}:DistillOptions"),
        ComponentSpec("low-rank", "compressor", "zoo_compress._low_rank:LowRank", "",
                      "Truncated-SVD factorization of Linear layers to a rank or an energy fraction",
                      f"{_OPTIONS}:LowRankOptions"),
        ComponentSpec("half", "compressor", "zoo_compress._half:Half", "",
                      "bf16 or fp16 weights", f"{_OPTIONS}:HalfOptions"),
    ]
