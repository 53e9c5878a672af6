"""Evaluation over a split, exact across processes."""

from __future__ import annotations

import math
from typing import Any

import torch


def to_device(batch: tuple, device: torch.device) -> tuple:
    return tuple(t.to(device, non_blocking=True) if torch.is_tensor(t) else t for t in batch)


def evaluate_split(accelerator, model: torch.nn.Module, trainer: Any, dataset: Any, split: Any,
                   batch_size: int, max_batches: int = 0) -> dict[str, torch.Tensor]:
    """Add ``trainer.eval_sums`` over the split's batches in order (the first ``max_batches``, 0 = all).

    Batch ``b`` runs on process ``b % world_size``; the sums of all processes are added.
    """
    size = len(split)
    batches = math.ceil(size / batch_size)
    if max_batches:
        batches = min(batches, max_batches)
    rank, world = accelerator.process_index, accelerator.num_processes
    mine = list(range(rank, batches, world))
    # A process without batches still computes the sums of batch 0 times zero, so that
    # every process contributes tensors of the same names and shapes to the reduction.
    zero_out = not mine
    if zero_out:
        mine = [0]

    was_training = model.training
    model.eval()
    totals: dict[str, torch.Tensor] = {}
    with torch.no_grad(), accelerator.autocast():
        for index in mine:
            items = [split[i] for i in range(index * batch_size, min(size, (index + 1) * batch_size))]
            batch = to_device(dataset.collate(items), accelerator.device)
            for key, value in trainer.eval_sums(model, batch).items():
                value = value.detach().to(torch.float64)
                totals[key] = totals[key] + value if key in totals else value
    model.train(was_training)

    if zero_out:
        totals = {key: torch.zeros_like(value) for key, value in totals.items()}
    if world > 1:
        totals = {key: accelerator.reduce(value.to(accelerator.device), reduction="sum") for key, value in sorted(totals.items())}
    return {key: value.cpu() for key, value in totals.items()}


def prefixed(split: str, metrics: dict[str, float]) -> dict[str, float]:
    return {f"{split}_{key}": float(value) for key, value in metrics.items()}
