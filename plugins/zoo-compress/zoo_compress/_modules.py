"""Helpers shared by the compressors: finding, naming and replacing modules."""

from __future__ import annotations

import fnmatch
from typing import Any, Protocol

import torch
from torch import nn


class CompressContext(Protocol):
    """What ``zoo compress`` hands to ``Compressor.apply``: the entry's data, trainer and runner.

    ``train`` runs the accelerate runner on ``model`` for ``steps`` optimizer steps with the
    recipe's runner options (batch size, schedule shape, clipping); ``lr`` replaces the peak
    learning rate and ``loss(model, batch)`` the trainer's training loss. It returns the
    trained model. ``load_teacher`` loads another stored entry (model, ``info``, dataset).
    """

    recipe: Any
    runner: Any
    dataset: Any
    info: dict[str, Any]
    trainer: Any
    base_name: str

    def batches(self, split: str = "val", count: int = 1) -> list[tuple]: ...

    def train(self, model: nn.Module, *, steps: int | None = None, lr: float | None = None,
              loss: Any = None) -> nn.Module: ...

    def load_teacher(self, name: str) -> Any: ...


def matches(name: str, patterns: list[str]) -> bool:
    """Return True when the module name matches any fnmatch pattern."""
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def set_module(model: nn.Module, name: str, module: nn.Module) -> None:
    """Replace the submodule called ``name`` (dotted path) with ``module``."""
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, module)


def embedding_parameters(model: nn.Module) -> set[int]:
    """Return the ids of the parameters owned by embeddings, including output layers tied to them."""
    return {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}


def architecture_name(model: nn.Module) -> str:
    return type(model).__name__


def first_tensor(batch: tuple) -> torch.Tensor:
    """Return a batch's model input: the first tensor of the tuple, by the trainers' convention."""
    return batch[0]
