"""Entry-level operations: train an entry into the store, evaluate a stored entry."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from zoo_registry import RECIPE_FILE, Entry, ZooError, get_registry, load_recipe, zoo_home

from .._atomic import write_text_atomic
from ._build import block_size_of
from ._checkpoint import find_checkpoint
from ._evaluate import evaluate_split, prefixed
from ._load import load_entry
from ._publish import publish_run
from ._train import distributed_cpu, make_accelerator, train

logger = logging.getLogger("zoo.runner")


def runs_dir(name: str) -> Path:
    return zoo_home() / "runs" / name


def latest_run_dir(name: str) -> Path | None:
    """Return the most recent run folder of ``name`` that contains a checkpoint."""
    folder = runs_dir(name)
    if not folder.is_dir():
        return None
    candidates = sorted((p for p in folder.iterdir() if p.is_dir() and find_checkpoint(p)), key=lambda p: p.name)
    return candidates[-1] if candidates else None


def _agreed_run_dir(name: str, output: Path | None) -> Path:
    """Pick the run folder on the main process and share it, so every process writes to the same one."""
    from accelerate import PartialState
    from accelerate.utils import broadcast_object_list

    state = PartialState(cpu=distributed_cpu())
    choice = [str(output) if output else str(runs_dir(name) / datetime.now().strftime("%Y%m%d-%H%M%S-%f"))]
    if state.num_processes > 1:
        broadcast_object_list(choice, from_process=0)
    return Path(choice[0])


def train_entry(source: Entry, overrides: list[str], *, output: Path | None = None, resume: bool = False) -> Path | None:
    """Train ``source``'s recipe and publish the result as a new store version; return its folder on the main process."""
    registry = get_registry()
    if resume:
        if overrides:
            raise ZooError("overrides cannot change a run that is resumed; run --resume without them, "
                           "or start a new run with the overrides")
        run_dir = output or latest_run_dir(source.name)
        if run_dir is None:
            raise ZooError(f"--resume found no run of {source.name!r} with a checkpoint in {runs_dir(source.name)}; "
                           f"pass the run folder with --output, or start without --resume")
        recipe = load_recipe(run_dir / RECIPE_FILE, registry)
    else:
        recipe = load_recipe(source.recipe_path, registry, overrides)
        if recipe.compress:
            steps = ", ".join(step.component.spec.name for step in recipe.compress)
            raise ZooError(f"entry {source.name!r} is compressed from {recipe.base or 'its base'} ({steps}), so "
                           f"training it from scratch would not fit its weights; build it with "
                           f"'zoo compress {source.name}'")
        run_dir = _agreed_run_dir(source.name, output)
        if find_checkpoint(run_dir) is not None:
            raise ZooError(f"{run_dir} already contains a run with a checkpoint; continue it with --resume, "
                           f"or choose another --output folder")

    accelerator = make_accelerator(recipe, run_dir)
    if accelerator.is_main_process:
        run_dir.mkdir(parents=True, exist_ok=True)
        if not resume:
            write_text_atomic(run_dir / RECIPE_FILE, recipe.to_yaml())
        logger.info("training %s in %s on %s (%d process(es))", source.label, run_dir, accelerator.device,
                    accelerator.num_processes)
    accelerator.wait_for_everyone()

    result = train(recipe, run_dir, resume=resume, accelerator=accelerator)
    published = None
    if accelerator.is_main_process:
        published = publish_run(result, recipe, source, source.name, run_dir)
        logger.info("published %s", published)
    accelerator.wait_for_everyone()
    return published


def evaluate_entry(entry: Entry) -> dict[str, float]:
    """Load a stored entry and compute its metrics on the validation (and test) split."""
    from accelerate import Accelerator

    import torch

    loaded = load_entry(entry)
    # PyTorch's dynamic int8 kernels run on the CPU only, so int8 entries are evaluated there.
    tensors = [*loaded.model.parameters(), *loaded.model.buffers()]
    accelerator = Accelerator(cpu=any(t.dtype == torch.int8 for t in tensors))
    model = loaded.model.to(accelerator.device)
    block_size = block_size_of(loaded.recipe)
    metrics: dict[str, float] = {}
    for split_name in [s for s in ("val", "test") if s in loaded.dataset.splits()]:
        split = loaded.dataset.split(split_name, block_size)
        sums = evaluate_split(accelerator, model, loaded.trainer, loaded.dataset, split, loaded.recipe.runner.batch_size,
                              loaded.recipe.runner.final_eval_batches)
        metrics.update(prefixed(split_name, loaded.trainer.metrics(sums)))
    return metrics
