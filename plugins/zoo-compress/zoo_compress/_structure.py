"""Find and shrink the layer pairs that structured pruning can cut.

A pair is a producer (``nn.Linear``, ``nn.Conv1d`` or ``nn.Conv2d``) whose
outputs reach the next such layer, the reader, only through modules that act
on each unit separately: activations, dropout, batch norm and pooling, plus a
``Flatten`` between a convolution and a linear layer. Removing output unit
``j`` of the producer then removes input column ``j`` of the reader (or the
block of columns that a flattened channel becomes), and batch norm's entry
``j``, and nothing else changes.

Pairs are found from the order in which modules were registered, which is
their call order in sequential models such as an MLP or a CNN. Because that
order is only a guess for arbitrary models, ``verify`` checks every pair on a
real batch before anything is cut.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ._modules import matches

logger = logging.getLogger("zoo_compress")

_PRODUCERS = (nn.Linear, nn.Conv1d, nn.Conv2d)
_PER_UNIT = (
    nn.ReLU, nn.ReLU6, nn.GELU, nn.SiLU, nn.Tanh, nn.Sigmoid, nn.LeakyReLU, nn.ELU, nn.Mish, nn.Hardswish,
    nn.Softplus, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Identity, nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d,
    nn.AvgPool2d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d,
)
_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)


@dataclass
class Group:
    """One producer, the batch norms on its outputs and its reader; ``columns`` reader columns per unit."""

    producer: str
    reader: str
    norms: list[str] = field(default_factory=list)
    columns: int = 1

    def record(self, kept: int, units: int) -> dict[str, Any]:
        return {"layer": self.producer, "reader": self.reader, "norms": list(self.norms),
                "columns_per_unit": self.columns, "kept": kept, "units": units}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> "Group":
        return cls(record["layer"], record["reader"], list(record.get("norms", [])),
                   int(record.get("columns_per_unit", 1)))


def _outputs(module: nn.Module) -> int:
    return module.out_features if isinstance(module, nn.Linear) else module.out_channels


def _inputs(module: nn.Module) -> int:
    return module.in_features if isinstance(module, nn.Linear) else module.in_channels


def find_groups(model: nn.Module, skip: list[str], shared: set[int]) -> list[Group]:
    """Return the producer-reader pairs of ``model`` in registration order (see the module docstring)."""
    leaves = [(name, m) for name, m in model.named_modules() if name and not any(True for _ in m.children())]
    groups = []
    for index, (name, producer) in enumerate(leaves):
        if not isinstance(producer, _PRODUCERS) or matches(name, skip) or id(producer.weight) in shared:
            continue
        if getattr(producer, "groups", 1) != 1:
            continue
        units = _outputs(producer)
        norms: list[str] = []
        flattened = False
        for reader_name, module in leaves[index + 1:]:
            if isinstance(module, _BATCH_NORMS) and module.num_features == units:
                norms.append(reader_name)
            elif isinstance(module, nn.Flatten) and isinstance(producer, nn.Conv2d):
                flattened = True
            elif isinstance(module, _PER_UNIT):
                continue
            elif isinstance(module, _PRODUCERS):
                if matches(reader_name, skip) or id(module.weight) in shared or getattr(module, "groups", 1) != 1:
                    break
                if flattened:
                    # A flattened channel becomes in_features / units consecutive columns.
                    if isinstance(module, nn.Linear) and module.in_features % units == 0:
                        groups.append(Group(name, reader_name, norms, module.in_features // units))
                elif type(module) is type(producer) and _inputs(module) == units:
                    # A Linear reads the last dimension and a convolution dimension 1, so only
                    # layers of the same kind read the producer's units as their inputs.
                    groups.append(Group(name, reader_name, norms, 1))
                break
            else:
                break
    return groups


def importance(model: nn.Module, group: Group) -> torch.Tensor:
    """Score each unit: its producer row norm, scaled by batch norm, times its reader columns' norm."""
    producer = model.get_submodule(group.producer)
    reader = model.get_submodule(group.reader)
    with torch.no_grad():
        score = producer.weight.detach().float().flatten(1).norm(dim=1)  # [units]
        for name in group.norms:
            norm = model.get_submodule(name)
            if norm.weight is not None:
                scale = norm.weight.detach().float().abs()
                if norm.running_var is not None:
                    scale = scale / torch.sqrt(norm.running_var.float() + norm.eps)
                score = score * scale
        columns = reader.weight.detach().float().transpose(0, 1).flatten(1)  # [in, rest]
        columns = columns.reshape(score.numel(), -1)  # [units, columns * rest]
        return score * columns.norm(dim=1)


def _reader_columns(kept: torch.Tensor, columns: int) -> torch.Tensor:
    return (kept.unsqueeze(1) * columns + torch.arange(columns)).reshape(-1)


def _select(parameter: torch.Tensor | None, index: torch.Tensor, dim: int) -> nn.Parameter | None:
    if parameter is None:
        return None
    return nn.Parameter(parameter.detach().index_select(dim, index).clone(), requires_grad=parameter.requires_grad)


def shrink(model: nn.Module, group: Group, kept: torch.Tensor) -> None:
    """Keep only units ``kept`` (sorted indices) of the group's producer, batch norms and reader."""
    producer = model.get_submodule(group.producer)
    producer.weight = _select(producer.weight, kept, 0)
    if producer.bias is not None:
        producer.bias = _select(producer.bias, kept, 0)
    if isinstance(producer, nn.Linear):
        producer.out_features = kept.numel()
    else:
        producer.out_channels = kept.numel()
    for name in group.norms:
        norm = model.get_submodule(name)
        if norm.weight is not None:
            norm.weight = _select(norm.weight, kept, 0)
            norm.bias = _select(norm.bias, kept, 0)
        if norm.running_mean is not None:
            norm.running_mean = norm.running_mean.index_select(0, kept).clone()
            norm.running_var = norm.running_var.index_select(0, kept).clone()
        norm.num_features = kept.numel()
    reader = model.get_submodule(group.reader)
    reader.weight = _select(reader.weight, _reader_columns(kept, group.columns), 1)
    if isinstance(reader, nn.Linear):
        reader.in_features = kept.numel() * group.columns
    else:
        reader.in_channels = kept.numel()


def _mask_reader(model: nn.Module, group: Group, dropped: torch.Tensor) -> None:
    reader = model.get_submodule(group.reader)
    with torch.no_grad():
        reader.weight[:, _reader_columns(dropped, group.columns)] = 0


def verify(model: nn.Module, group: Group, kept: torch.Tensor, inputs: torch.Tensor) -> bool:
    """Return True when cutting ``group`` gives the same outputs as zeroing the reader's columns of the cut units.

    A pair found from registration order whose outputs are also used elsewhere
    (a residual connection, a second reader) fails this check or the shapes break.
    """
    units = _outputs(model.get_submodule(group.producer))
    dropped = torch.tensor(sorted(set(range(units)) - set(kept.tolist())), dtype=torch.long)
    masked, cut = copy.deepcopy(model).eval(), copy.deepcopy(model).eval()
    _mask_reader(masked, group, dropped)
    try:
        with torch.no_grad():
            expected = masked(inputs)
            shrink(cut, group, kept)
            actual = cut(inputs)
    except (RuntimeError, ValueError) as error:
        logger.warning("structured pruning skips %s -> %s: cutting it fails (%s)", group.producer, group.reader, error)
        return False
    if not torch.is_tensor(expected) or not torch.is_tensor(actual) or expected.shape != actual.shape:
        return False
    scale = float(expected.abs().max()) or 1.0
    if not torch.allclose(actual, expected, rtol=1e-4, atol=1e-5 * scale):
        logger.warning("structured pruning skips %s -> %s: its outputs are also used outside %s",
                       group.producer, group.reader, group.reader)
        return False
    return True


def units_of(model: nn.Module, group: Group) -> int:
    return _outputs(model.get_submodule(group.producer))
