"""Deterministic, resumable, sharded sampling of training examples.

The sample stream is the concatenation of seeded permutations of the split,
one per epoch. Optimizer step ``s``, micro-batch ``m`` on process ``r`` of
``w`` reads a fixed slice of that stream. The batch of any step can
therefore be recomputed from the step alone, so resuming needs no sampler
state, and processes never read the same slice.
"""

from __future__ import annotations

import torch


class StepSampler:
    """Return the example indices of one micro-batch for a given step."""

    def __init__(self, size: int, batch_size: int, grad_accum_steps: int, world_size: int, rank: int, seed: int):
        if size <= 0:
            raise ValueError("cannot sample from an empty split")
        self.size = size
        self.batch_size = batch_size
        self.grad_accum_steps = grad_accum_steps
        self.world_size = world_size
        self.rank = rank
        self.seed = seed
        self._epoch = -1
        self._permutation = torch.empty(0, dtype=torch.long)

    def _permutation_of(self, epoch: int) -> torch.Tensor:
        if epoch != self._epoch:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._permutation = torch.randperm(self.size, generator=generator)
            self._epoch = epoch
        return self._permutation

    def indices(self, step: int, micro: int) -> list[int]:
        per_step = self.batch_size * self.world_size * self.grad_accum_steps
        start = step * per_step + (micro * self.world_size + self.rank) * self.batch_size
        out = []
        for position in range(start, start + self.batch_size):
            epoch, offset = divmod(position, self.size)
            out.append(int(self._permutation_of(epoch)[offset]))
        return out

    def epoch_of(self, step: int) -> float:
        """Return how many passes over the split were completed before ``step``."""
        return step * self.batch_size * self.world_size * self.grad_accum_steps / self.size
