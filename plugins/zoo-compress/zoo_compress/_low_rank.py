"""Low-rank factorization of linear layers by truncated SVD."""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn

from zoo_registry import ZooError

from ._modules import architecture_name, embedding_parameters, matches, set_module
from .options import LowRankOptions

__all__ = ["LowRank", "LowRankLinear"]

logger = logging.getLogger("zoo_compress")


class LowRankLinear(nn.Module):
    """``up(down(x))``: a Linear layer whose weight [out, in] is the product of [out, rank] and [rank, in].

    Both factors are ordinary ``nn.Linear`` layers, so later steps (int8-dynamic,
    structured pruning of the rank) treat them like any other linear layer.
    """

    def __init__(self, in_features: int, out_features: int, rank: int, bias: bool):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.rank = rank
        self.down = nn.Linear(in_features, rank, bias=False)
        self.up = nn.Linear(rank, out_features, bias=bias)

    @classmethod
    def from_linear(cls, linear: nn.Linear, rank: int, u: torch.Tensor, s: torch.Tensor,
                    vh: torch.Tensor) -> "LowRankLinear":
        module = cls(linear.in_features, linear.out_features, rank, linear.bias is not None)
        root = s[:rank].sqrt()
        dtype = linear.weight.dtype
        with torch.no_grad():
            # Splitting sqrt(S) between the factors gives both the same scale.
            module.up.weight.copy_((u[:, :rank] * root).to(dtype))  # [out, rank]
            module.down.weight.copy_((root.unsqueeze(1) * vh[:rank]).to(dtype))  # [rank, in]
            if linear.bias is not None:
                module.up.bias.copy_(linear.bias)
        return module.to(linear.weight.device)

    @property
    def weight(self) -> torch.Tensor:
        """The product of the factors [out, in], for code that reads ``layer.weight``."""
        return self.up.weight @ self.down.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(self.down(x))  # [..., in] -> [..., rank] -> [..., out]

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, rank={self.rank}"


def _rank_for_energy(s: torch.Tensor, energy: float) -> int:
    """Return the smallest rank whose singular values keep ``energy`` of the sum of their squares."""
    squares = s.double() ** 2
    kept = torch.cumsum(squares, 0) / squares.sum()
    return int(torch.searchsorted(kept, torch.tensor([energy], dtype=kept.dtype)).item()) + 1


class LowRank:
    """The ``low-rank`` compressor."""

    def __init__(self, options: LowRankOptions):
        self.options = options

    def _targets(self, model: nn.Module) -> list[tuple[str, nn.Linear]]:
        shared = embedding_parameters(model)
        return [(name, module) for name, module in model.named_modules()
                if type(module) is nn.Linear and not matches(name, self.options.skip) and id(module.weight) not in shared]

    def check(self, model: nn.Module, info: dict[str, Any]) -> None:
        """Raise ``ZooError`` when the model has no linear layer to factorize or a layer is smaller than the rank."""
        targets = self._targets(model)
        if not targets:
            raise ZooError(f"low-rank found no nn.Linear layer to factorize in {architecture_name(model)} (skip="
                           f"{self.options.skip}; layers sharing an embedding's weight are never factorized); use "
                           f"another compressor such as prune")
        rank = self.options.rank
        if rank is None:
            return
        too_small = [f"{name} ({m.out_features} x {m.in_features}, max rank {min(m.in_features, m.out_features)})"
                     for name, m in targets if rank > min(m.in_features, m.out_features)]
        if too_small:
            raise ZooError(f"low-rank rank={rank} is larger than {', '.join(too_small)}; a rank can be at most the "
                           f"smaller side of the weight matrix, so lower rank or add these layers to skip")

    def apply(self, model: nn.Module, context: Any) -> nn.Module:
        """Factorize every target layer where that makes it smaller, fine-tune when asked, and return the model."""
        ranks: dict[str, int] = {}
        explicit_only = self.options.rank is None and self.options.energy is None
        for name, linear in self._targets(model):
            if explicit_only and name not in self.options.ranks:
                continue
            with torch.no_grad():
                u, s, vh = torch.linalg.svd(linear.weight.detach().float(), full_matrices=False)
            rank = self.options.ranks.get(name) or self.options.rank or _rank_for_energy(s, self.options.energy)
            out_features, in_features = linear.weight.shape
            if rank * (in_features + out_features) >= in_features * out_features:
                logger.info("low-rank keeps %s dense: rank %d of %d x %d would not make it smaller",
                            name, rank, out_features, in_features)
                continue
            set_module(model, name, LowRankLinear.from_linear(linear, rank, u, s, vh))
            ranks[name] = rank
        if not ranks:
            raise ZooError(f"low-rank left every layer of {architecture_name(model)} dense, because no rank was "
                           f"small enough to save parameters; lower rank or energy")
        self.options.ranks = ranks
        if self.options.finetune_steps:
            model = context.train(model, steps=self.options.finetune_steps, lr=self.options.finetune_lr)
        return model

    def restore(self, model: nn.Module, info: dict[str, Any]) -> nn.Module:
        """Replace the layers listed in ``ranks`` by empty factorized layers of the stored ranks."""
        if not self.options.ranks:
            raise ZooError("the recipe's low-rank step has no ranks, so the factorized shapes are unknown; this "
                           "recipe was not written by zoo compress. Build the entry again with 'zoo compress'")
        for name, rank in self.options.ranks.items():
            try:
                linear = model.get_submodule(name)
            except AttributeError:
                raise ZooError(f"the low-rank step lists layer {name!r}, which the model built from the recipe does "
                               f"not have; check that recipe.yaml belongs to these weights") from None
            module = LowRankLinear(linear.in_features, linear.out_features, int(rank), linear.bias is not None)
            set_module(model, name, module.to(linear.weight.device, linear.weight.dtype))
        return model
