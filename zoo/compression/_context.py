"""The context of a compressor: the entry's data, trainer and runner, and teacher entries."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

import torch

from zoo_registry import Recipe, ZooError, get_registry, resolve_entry, zoo_home

from ..runner import LoadedEntry, load_entry
from ..runner._build import Parts, block_size_of
from ..runner._train import train

logger = logging.getLogger("zoo.compress")


def resolve_with_weights(name: str):
    """Resolve ``name``, preferring the first entry on the search path that has weights.

    A first-party card and the store version trained from it share a name, and
    only the store version has weights.
    """
    entry = resolve_entry(get_registry(), name)
    if entry.has_weights:
        return entry
    for hidden in entry.shadows:
        if hidden.has_weights:
            return hidden
    return entry


@dataclass
class Training:
    """One fine-tuning or distillation run made during compression, for the card's lineage."""

    compressor: str
    steps: int
    units: int
    elapsed_s: float
    run_dir: str


@dataclass
class CompressContext:
    """The context of ``Compressor.apply``; see ``zoo_compress._modules.CompressContext`` for the contract."""

    recipe: Recipe
    name: str
    base_name: str
    dataset: Any
    info: dict[str, Any]
    trainer: Any
    compressor: str = ""
    trainings: list[Training] = field(default_factory=list)
    _teachers: dict[str, LoadedEntry] = field(default_factory=dict)

    @property
    def runner(self):
        return self.recipe.runner

    def batches(self, split: str = "val", count: int = 1) -> list[tuple]:
        """Return the first ``count`` batches of ``split`` at the recipe's batch size, in order."""
        data = self.dataset.split(split, block_size_of(self.recipe))
        size = self.runner.batch_size
        out = []
        for index in range(count):
            items = [data[i] for i in range(index * size, min(len(data), (index + 1) * size))]
            if items:
                out.append(self.dataset.collate(items))
        if not out:
            raise ZooError(f"the {split} split of {self.base_name} is empty, so there is no batch to compress with")
        return out

    def train(self, model: torch.nn.Module, *, steps: int | None = None, lr: float | None = None,
              loss: Callable[[torch.nn.Module, tuple], torch.Tensor] | None = None) -> torch.nn.Module:
        """Train ``model`` with the accelerate runner and the recipe's runner options; return the trained model.

        ``steps`` replaces ``train.max_steps`` (evaluating only at the end); ``lr`` replaces the peak
        learning rate, and ``min_lr`` keeps its ratio to it. Runs write no checkpoints.
        """
        runner = dataclasses.replace(self.runner, checkpoint_interval=0, trackers=[])
        if steps is not None:
            runner = dataclasses.replace(runner, max_steps=steps, eval_interval=steps,
                                         warmup_steps=min(runner.warmup_steps, steps // 10))
        if lr is not None:
            runner = dataclasses.replace(runner, lr=lr, min_lr=lr * runner.min_lr / runner.lr)
        recipe = dataclasses.replace(self.recipe, runner=runner)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        run_dir = zoo_home() / "runs" / self.name / f"{stamp}-{self.compressor or 'compress'}"
        run_dir.mkdir(parents=True, exist_ok=True)
        logger.info("%s: training %d steps in %s", self.compressor, runner.max_steps, run_dir)
        parts = Parts(dataset=self.dataset, info=self.info, model=model, trainer=self.trainer)
        result = train(recipe, run_dir, resume=False, parts=parts, loss=loss)
        self.trainings.append(Training(self.compressor, result.steps, int(result.units), round(result.elapsed_s, 1),
                                       str(run_dir)))
        return result.model.cpu()

    def load_teacher(self, name: str) -> LoadedEntry:
        """Load a stored entry with weights (cached), for distillation."""
        if name not in self._teachers:
            entry = resolve_with_weights(name)
            self._teachers[name] = load_entry(entry)
        return self._teachers[name]
