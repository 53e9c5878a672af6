"""Contracts between the runner and the implementations that components name.

These protocols document the contract for plugin authors and type-check
zoo's own calls. They mention torch types only in strings, so importing this
module stays torch-free. A batch is always a tuple of tensors; the runner
moves each tensor to the training device.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Architecture(Protocol):
    """An architecture's ``target``: a callable that builds the model.

    ``options`` is the architecture's options dataclass (the recipe's
    ``model`` section); ``info`` is ``Dataset.info()``, which supplies facts
    such as ``vocab_size`` or ``num_classes`` that come from the data.
    """

    def __call__(self, options: Any, info: dict[str, Any]) -> "torch.nn.Module": ...  # noqa: F821


@runtime_checkable
class Dataset(Protocol):
    """A dataset's ``target`` is a class called as ``Dataset(options, artifacts=None)``.

    Construction must be cheap; data is read on first use. ``artifacts`` is a
    folder where ``save_artifacts`` wrote files before (a tokenizer, a
    vocabulary); when given, they are reused instead of rebuilt, so a stored
    entry encodes text exactly as it did in training.
    """

    def info(self) -> dict[str, Any]:
        """Return JSON-serializable facts the architecture and trainer need."""

    def split(self, name: str) -> "torch.utils.data.Dataset":  # noqa: F821
        """Return the split ``train``, ``val`` or ``test``; raise ``DataError`` if it does not exist."""

    def splits(self) -> list[str]:
        """Return the names of the splits this dataset has."""

    def collate(self, items: list[Any]) -> tuple:
        """Stack dataset items into a batch, a tuple of tensors."""

    def save_artifacts(self, folder: Path) -> list[str]:
        """Write the files needed to reuse this dataset's encoding; return their names."""

    def fingerprint(self) -> dict[str, str]:
        """Return the sha256 of every data file read, by file name, for lineage."""


@runtime_checkable
class Trainer(Protocol):
    """A trainer's ``target`` is a class called as ``Trainer(options, info)``.

    Evaluation is additive so it is exact across processes: ``eval_sums``
    returns sums for one batch, the runner adds them over batches and
    processes, and ``metrics`` turns the totals into numbers.
    """

    primary_metric: str
    """Name of the metric that decides the best model, e.g. ``loss``."""
    higher_is_better: bool
    unit: str
    """Unit that ``count`` counts, e.g. ``tokens`` or ``images``, used for throughput."""

    def loss(self, model: Any, batch: tuple) -> "torch.Tensor": ...  # noqa: F821

    def count(self, batch: tuple) -> int: ...

    def eval_sums(self, model: Any, batch: tuple) -> dict[str, "torch.Tensor"]: ...  # noqa: F821

    def metrics(self, sums: dict[str, "torch.Tensor"]) -> dict[str, float]: ...  # noqa: F821

    def report(self, sums: dict[str, "torch.Tensor"], folder: Path) -> dict[str, str]:
        """Write plots or tables for a card into ``folder``; return {title: file name}."""


@runtime_checkable
class Compressor(Protocol):
    """A compressor's ``target`` is a class called as ``Compressor(options)``.

    ``check`` runs for every step before any step does work, so a bad step
    fails fast. ``restore`` rebuilds the compressed module structure on a
    freshly built model, so the stored state dict loads strictly.
    """

    def check(self, model: Any, info: dict[str, Any], context: Any = None) -> None:
        """Raise a ``ZooError`` when this step cannot apply to ``model``."""

    def apply(self, model: Any, context: Any) -> Any:
        """Return the compressed model; ``context`` runs fine-tuning or distillation through the runner."""

    def restore(self, model: Any, info: dict[str, Any]) -> Any:
        """Return ``model`` with the compressed structure that the saved weights have."""
