"""Example inputs of an entry's model: its own data, or random inputs of the same shape when the data is missing."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from zoo_registry import DataError, ZooError


@dataclass
class ExampleInputs:
    """A batch of model inputs, how many units (tokens, images) it has, and why it is random (None when real)."""

    inputs: torch.Tensor
    units: int
    random_reason: str | None = None


def _random_inputs(loaded, batch_size: int, reason: str) -> ExampleInputs | None:
    """Return random inputs shaped from the dataset's ``info``, or None when ``info`` does not describe them."""
    info = loaded.info
    generator = torch.Generator().manual_seed(0)
    if "vocab_size" in info and loaded.block_size:
        ids = torch.randint(0, int(info["vocab_size"]), (batch_size, loaded.block_size), generator=generator)
        return ExampleInputs(ids, ids.numel(), reason)
    if {"in_channels", "image_size"} <= set(info):
        size = int(info["image_size"])
        images = torch.randn(batch_size, int(info["in_channels"]), size, size, generator=generator)
        return ExampleInputs(images, batch_size, reason)
    return None


def example_inputs(loaded, batch_size: int) -> ExampleInputs:
    """Return ``batch_size`` examples of the entry's validation (or test, or train) split, as the model takes them.

    When the entry's data cannot be read (a pulled entry on a machine without its data set), the
    inputs are random token ids or images of the shape that the dataset's ``info`` describes,
    because speed and export do not depend on the values.
    """
    dataset = loaded.dataset
    try:
        names = dataset.splits()
        split_name = next((name for name in ("val", "test", "train") if name in names), None)
        if split_name is None:
            raise DataError(f"the dataset of {loaded.entry.label} has no val, test or train split")
        split = dataset.split(split_name, loaded.block_size)
        batch = dataset.collate([split[index % len(split)] for index in range(batch_size)])
    except DataError as error:
        reason = f"the inputs are random because the entry's data is not available: {' '.join(str(error).split())}"
        fallback = _random_inputs(loaded, batch_size, reason)
        if fallback is None:
            raise ZooError(f"{error}; and the dataset's info() describes no input shape to use instead") from None
        return fallback
    return ExampleInputs(batch[0], int(loaded.trainer.count(batch)))
