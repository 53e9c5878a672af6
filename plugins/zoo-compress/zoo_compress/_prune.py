"""Magnitude pruning: unstructured (zero the smallest weights) or structured (remove neurons and channels)."""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn

from zoo_registry import ZooError

from ._modules import architecture_name, embedding_parameters, first_tensor, matches
from ._structure import Group, find_groups, importance, shrink, units_of, verify
from .options import PruneOptions

__all__ = ["Prune", "prunable_weights"]

logger = logging.getLogger("zoo_compress")

_WEIGHT_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
_RNN_LAYERS = (nn.LSTM, nn.GRU, nn.RNN)


def prunable_weights(model: nn.Module, skip: list[str]) -> list[tuple[str, nn.Parameter]]:
    """Return the weight matrices that unstructured pruning may zero, each once, by parameter name."""
    shared = embedding_parameters(model)
    seen: set[int] = set()
    found = []
    for name, module in model.named_modules():
        if not name or matches(name, skip):
            continue
        if isinstance(module, _WEIGHT_LAYERS):
            candidates = [("weight", module.weight)]
        elif isinstance(module, _RNN_LAYERS):
            candidates = [(n, p) for n, p in module.named_parameters(recurse=False) if n.startswith("weight_")]
        else:
            continue
        for parameter_name, parameter in candidates:
            if id(parameter) in shared or id(parameter) in seen or not parameter.is_floating_point():
                continue
            seen.add(id(parameter))
            found.append((f"{name}.{parameter_name}", parameter))
    return found


def _smallest_mask(values: torch.Tensor, count: int) -> torch.Tensor:
    """Return a mask that is False at the ``count`` smallest entries of ``values`` and True elsewhere."""
    mask = torch.ones(values.numel(), dtype=torch.bool)
    if count > 0:
        mask[torch.argsort(values.flatten(), stable=True)[:count]] = False
    return mask.view_as(values)


class Prune:
    """The ``prune`` compressor."""

    def __init__(self, options: PruneOptions):
        self.options = options

    def check(self, model: nn.Module, info: dict[str, Any]) -> None:
        """Raise ``ZooError`` for a sparsity outside (0, 1) or a model without anything this method can prune."""
        sparsity = self.options.sparsity
        if not 0 < sparsity < 1:
            raise ZooError(f"prune sparsity={sparsity!r} is outside (0, 1): it is the fraction of weights to remove, "
                           f"so use a value such as 0.5")
        name = architecture_name(model)
        if self.options.method == "unstructured":
            if not prunable_weights(model, self.options.skip):
                raise ZooError(f"prune found no weights to prune in {name}: it prunes nn.Linear, nn.Conv, nn.LSTM "
                               f"and nn.GRU weights that are not skipped ({self.options.skip}) or shared with an "
                               f"embedding. Put prune before int8-dynamic or low-rank in the compress list")
            return
        if not find_groups(model, self.options.skip, embedding_parameters(model)):
            raise ZooError(f"prune method=structured found no layers to shrink in {name}: it removes output neurons "
                           f"of an nn.Linear or channels of an nn.Conv that reach the next layer of the same kind "
                           f"only through activations, dropout, batch norm or pooling; use method=unstructured")

    def apply(self, model: nn.Module, context: Any) -> nn.Module:
        """Prune ``model`` in place, fine-tune it when asked, and return it."""
        if self.options.method == "structured":
            model = self._structured(model, context)
            if self.options.finetune_steps:
                model = context.train(model, steps=self.options.finetune_steps, lr=self.options.finetune_lr)
            return model
        masks = self._unstructured_masks(model)
        with torch.no_grad():
            for parameter, mask in masks:
                parameter.mul_(mask)
        if self.options.finetune_steps:
            # A zero gradient leaves AdamW's moments at zero, so the update of a pruned weight is
            # exactly zero and weight decay of a zero weight is zero: pruned weights stay zero.
            hooks = [parameter.register_hook(lambda grad, mask=mask: grad * mask) for parameter, mask in masks]
            try:
                model = context.train(model, steps=self.options.finetune_steps, lr=self.options.finetune_lr)
            finally:
                for hook in hooks:
                    hook.remove()
            with torch.no_grad():
                for parameter, mask in masks:
                    parameter.mul_(mask)
        return model

    def _unstructured_masks(self, model: nn.Module) -> list[tuple[nn.Parameter, torch.Tensor]]:
        weights = [parameter for _, parameter in prunable_weights(model, self.options.skip)]
        if self.options.scope == "layer":
            return [(p, _smallest_mask(p.detach().abs(), round(p.numel() * self.options.sparsity))) for p in weights]
        magnitudes = torch.cat([p.detach().abs().flatten() for p in weights])
        mask = _smallest_mask(magnitudes, round(magnitudes.numel() * self.options.sparsity))
        out, start = [], 0
        for parameter in weights:
            out.append((parameter, mask[start:start + parameter.numel()].view_as(parameter)))
            start += parameter.numel()
        return out

    def _structured(self, model: nn.Module, context: Any) -> nn.Module:
        given = {record["layer"]: int(record["kept"]) for record in self.options.pruned_units}
        inputs = first_tensor(context.batches("val", 1)[0])
        model.eval()
        chosen: list[tuple[Group, torch.Tensor, int]] = []
        for group in find_groups(model, self.options.skip, embedding_parameters(model)):
            units = units_of(model, group)
            keep = given.get(group.producer, max(1, round(units * (1 - self.options.sparsity))))
            scores = importance(model, group)
            kept = torch.sort(torch.topk(scores, keep).indices).values
            if verify(model, group, kept, inputs):
                chosen.append((group, kept, units))
        if not chosen:
            raise ZooError(f"prune method=structured could not shrink any layer of {architecture_name(model)}: "
                           f"every candidate's outputs are also used elsewhere; use method=unstructured")
        records = []
        for group, kept, units in chosen:
            shrink(model, group, kept)
            records.append(group.record(kept.numel(), units))
            logger.info("structured pruning keeps %d of %d units of %s", kept.numel(), units, group.producer)
        self.options.pruned_units = records
        return model

    def restore(self, model: nn.Module, info: dict[str, Any]) -> nn.Module:
        """Shrink the layers listed in ``pruned_units`` to their stored sizes; unstructured pruning keeps the shapes."""
        if self.options.method != "structured":
            return model
        if not self.options.pruned_units:
            raise ZooError("the recipe's structured prune step has no pruned_units, so the pruned shapes are unknown; "
                           "this recipe was not written by zoo compress. Build the entry again with 'zoo compress'")
        for record in self.options.pruned_units:
            try:
                shrink(model, Group.from_record(record), torch.arange(int(record["kept"])))
            except (AttributeError, KeyError, TypeError) as error:
                raise ZooError(f"the pruned_units record {record} does not fit the model built from the recipe "
                               f"({error}); check that recipe.yaml belongs to these weights") from None
        return model
