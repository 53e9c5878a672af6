"""The training loop: setup, train with periodic evaluation and checkpoints, final evaluation."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from zoo_registry import Recipe, ZooError

from .._atomic import write_json_atomic, write_text_atomic
from ._build import Parts, block_size_of, build_parts
from ._checkpoint import find_checkpoint, load_checkpoint, save_checkpoint
from ._evaluate import evaluate_split, prefixed, to_device
from ._progress import METRICS_FILE, Reporter, read_metrics
from ._sampling import StepSampler
from ._schedule import lr_at, make_optimizer

logger = logging.getLogger("zoo.runner")


@dataclass
class TrainResult:
    """Outcome of a finished run, set on every process and published by the main one."""

    model: torch.nn.Module
    parts: Any
    metrics: dict[str, float]
    sums: dict[str, dict[str, torch.Tensor]]
    steps: int
    units: int
    elapsed_s: float
    world_size: int
    device: str
    mixed_precision: str
    is_main_process: bool
    extra: dict[str, Any] = field(default_factory=dict)


def distributed_cpu() -> bool:
    """Return True when a launcher started several processes on a machine without a GPU.

    accelerate only starts gloo on CPU when asked for the CPU; without this, each
    process launched by ``accelerate launch --multi_gpu`` or ``torchrun`` on a
    CPU-only machine would train alone.
    """
    import os

    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available()


def make_accelerator(recipe: Recipe, run_dir: Path):
    from accelerate import Accelerator
    from accelerate.utils import is_bf16_available

    config = recipe.runner
    precision = config.mixed_precision
    if precision == "bf16" and not is_bf16_available():
        raise ZooError("train.mixed_precision=bf16 is not supported on this device; use train.mixed_precision=no")
    trackers = [t for t in config.trackers if _tracker_installed(t)]
    try:
        return Accelerator(
            mixed_precision=precision, log_with=trackers or None, project_dir=str(run_dir),
            cpu=distributed_cpu(),
        )
    except ValueError as error:
        raise ZooError(f"train.mixed_precision={precision} cannot be used here: {error}. "
                       f"Use train.mixed_precision=no or bf16.") from None


def _tracker_installed(name: str) -> bool:
    import importlib.util

    # Each accelerate tracker needs its logging package; torch.utils.tensorboard needs tensorboard too.
    modules = {"tensorboard": ("tensorboard", "tensorboardX"), "wandb": ("wandb",), "mlflow": ("mlflow",),
               "comet_ml": ("comet_ml",), "aim": ("aim",), "clearml": ("clearml",), "dvclive": ("dvclive",)}
    found = any(importlib.util.find_spec(module) is not None for module in modules.get(name, (name,)))
    if not found:
        logger.warning("tracker %r is not installed; metrics go to %s only", name, METRICS_FILE)
    return found


def train(recipe: Recipe, run_dir: Path, *, resume: bool, accelerator=None, parts: Parts | None = None,
          loss: Callable[[torch.nn.Module, tuple], torch.Tensor] | None = None) -> TrainResult:
    """Train the recipe's model in ``run_dir``; with ``resume`` continue from its checkpoint exactly.

    ``parts`` replaces the dataset, model and trainer built from the recipe, so an existing
    model can be fine-tuned (compression does this). ``loss(model, batch)`` replaces the
    trainer's training loss, for example with a distillation loss; evaluation still uses
    the trainer.
    """
    config = recipe.runner
    accelerator = accelerator or make_accelerator(recipe, run_dir)
    main = accelerator.is_main_process

    # Setup: data, model and trainer are built identically on every process.
    torch.manual_seed(config.seed)
    parts = parts or build_parts(recipe)
    loss_of = loss or parts.trainer.loss
    block_size = block_size_of(recipe)
    train_split = parts.dataset.split("train", block_size)
    val_split = parts.dataset.split("val", block_size)
    sampler = StepSampler(len(train_split), config.batch_size, config.grad_accum_steps,
                          accelerator.num_processes, accelerator.process_index, config.seed)
    optimizer = make_optimizer(parts.model, config)
    model, optimizer = accelerator.prepare(parts.model, optimizer)
    # Dropout masks differ per process; the model itself was initialized from the same seed.
    torch.manual_seed(config.seed + accelerator.process_index)

    start_step, elapsed, units = 0, 0.0, 0
    checkpoint = find_checkpoint(run_dir) if resume else None
    if resume and checkpoint is None:
        raise ZooError(f"--resume found no checkpoint in {run_dir}; start the run without --resume")
    if checkpoint is not None:
        state = load_checkpoint(checkpoint, accelerator, model, optimizer)
        if state["recipe_hash"] != recipe.hash:
            raise ZooError(f"the checkpoint in {checkpoint} belongs to a different recipe; resume with the same "
                           f"recipe and overrides, or start a new run")
        start_step, elapsed, units = state["step"], state["elapsed_s"], state["units"]
        if main:
            kept = [r for r in read_metrics(run_dir / METRICS_FILE) if r.get("step", 0) <= start_step]
            write_text_atomic(run_dir / METRICS_FILE, "".join(_json_line(r) for r in kept))
        logger.info("resumed from %s at step %d", checkpoint, start_step)
    if config.trackers:
        accelerator.init_trackers(run_dir.name, config=_flatten(recipe.resolved))

    reporter = Reporter(run_dir, config.max_steps, start_step, parts.trainer.unit, enabled=main)
    seen = hashlib.sha256()
    first_indices: list[int] = []
    collate, device = parts.dataset.collate, accelerator.device
    model.train()
    started = time.perf_counter() - elapsed
    try:
        for step in range(start_step, config.max_steps):
            # Train: one optimizer step over grad_accum_steps micro-batches.
            lr = lr_at(step, config)
            for group in optimizer.param_groups:
                group["lr"] = lr
            for micro in range(config.grad_accum_steps):
                indices = sampler.indices(step, micro)
                seen.update(json.dumps(indices).encode())
                first_indices = first_indices or indices
                batch = to_device(collate([train_split[i] for i in indices]), device)
                last = micro == config.grad_accum_steps - 1
                sync = contextlib.nullcontext() if last else accelerator.no_sync(model)
                with sync, accelerator.autocast():
                    loss = loss_of(model, batch)
                    accelerator.backward(loss / config.grad_accum_steps)
                units += parts.trainer.count(batch) * accelerator.num_processes
            if config.grad_clip > 0:
                accelerator.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            done = step + 1

            # Report the loss of this process's last micro-batch.
            if done % config.log_interval == 0 or done == config.max_steps:
                reporter.train_step(done, loss.item(), lr, units, time.perf_counter() - started)
                if config.trackers:
                    accelerator.log({"train_loss": loss.item(), "lr": lr}, step=done)
            else:
                reporter.advance(done)

            # Evaluate periodically on part of the validation split.
            if done % config.eval_interval == 0 and done != config.max_steps:
                sums = evaluate_split(accelerator, accelerator.unwrap_model(model), parts.trainer, parts.dataset,
                                      val_split, config.batch_size, config.eval_batches)
                metrics = prefixed("val", parts.trainer.metrics(sums))
                reporter.evaluation(done, metrics, time.perf_counter() - started)
                if config.trackers:
                    accelerator.log(metrics, step=done)
                reporter.restart_rate(units)

            # Checkpoint: everything needed to continue exactly from here.
            if config.checkpoint_interval and done % config.checkpoint_interval == 0 and done != config.max_steps:
                save_checkpoint(run_dir, accelerator, model, optimizer,
                                {"step": done, "elapsed_s": time.perf_counter() - started, "units": units,
                                 "recipe_hash": recipe.hash})
                reporter.restart_rate(units)
    finally:
        reporter.close()
    elapsed = time.perf_counter() - started
    _write_process_record(run_dir, accelerator, start_step, config.max_steps, seen.hexdigest(), first_indices)

    # Final evaluation on the whole validation split (and test split when the dataset has one).
    unwrapped = accelerator.unwrap_model(model)
    all_sums, metrics = {}, {}
    for split_name in [s for s in ("val", "test") if s in parts.dataset.splits()]:
        split = val_split if split_name == "val" else parts.dataset.split(split_name, block_size)
        sums = evaluate_split(accelerator, unwrapped, parts.trainer, parts.dataset, split, config.batch_size,
                              config.final_eval_batches)
        all_sums[split_name] = sums
        metrics.update(prefixed(split_name, parts.trainer.metrics(sums)))
    reporter.evaluation(config.max_steps, metrics, elapsed)
    if config.trackers:
        accelerator.log(metrics, step=config.max_steps)
        accelerator.end_training()
    accelerator.wait_for_everyone()

    return TrainResult(
        model=unwrapped, parts=parts, metrics=metrics, sums=all_sums, steps=config.max_steps, units=units,
        elapsed_s=elapsed, world_size=accelerator.num_processes, device=str(accelerator.device),
        mixed_precision=config.mixed_precision, is_main_process=main,
    )


def _write_process_record(run_dir: Path, accelerator, start_step: int, end_step: int, digest: str,
                          first_indices: list[int]) -> None:
    """Record which training examples this process read, so data sharding can be audited after a run."""
    write_json_atomic(run_dir / "processes" / f"rank-{accelerator.process_index}.json", {
        "rank": accelerator.process_index,
        "world_size": accelerator.num_processes,
        "device": str(accelerator.device),
        "steps": [start_step, end_step],
        "indices_sha256": digest,
        "first_batch_indices": first_indices,
    })


def _json_line(record: dict) -> str:
    return json.dumps(record) + "\n"


def _flatten(data: dict, prefix: str = "") -> dict[str, Any]:
    """Flatten the resolved recipe into scalar hyperparameters, as trackers expect."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        elif isinstance(value, (int, float, str, bool)):
            flat[name] = value
        else:
            flat[name] = str(value)
    return flat
