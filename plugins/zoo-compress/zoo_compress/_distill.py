"""Knowledge distillation: the recipe's model learns a teacher entry's softened outputs and the true labels."""

from __future__ import annotations

import filecmp
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from zoo_registry import ZooError

from ._modules import first_tensor
from .options import DistillOptions

__all__ = ["Distill", "soft_target_loss"]


# Facts of the dataset's info that name the encoding, shown first when teacher and student differ.
_ENCODING_KEYS = ("tokenizer", "vocab_size", "num_classes", "class_names")


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def soft_target_loss(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """Return KL(teacher || student) of the temperature-softened distributions, times temperature squared.

    Logits are [..., classes]; the divergence is averaged over every position. The
    temperature-squared factor keeps the gradients the same size as the hard loss's
    (Hinton et al., 2015, "Distilling the Knowledge in a Neural Network", section 2).
    """
    classes = student.size(-1)
    student = F.log_softmax(student.float().reshape(-1, classes) / temperature, dim=-1)  # [N, classes]
    teacher = F.log_softmax(teacher.float().reshape(-1, classes) / temperature, dim=-1)  # [N, classes]
    return F.kl_div(student, teacher, log_target=True, reduction="batchmean") * temperature ** 2


class Distill:
    """The ``distill`` compressor: trains the recipe's model (the student) with the recipe's ``train`` section."""

    trains_new_model = True
    """``zoo compress`` builds a fresh model from the recipe for this step instead of loading the base's weights."""

    def __init__(self, options: DistillOptions):
        self.options = options

    def _teacher_name(self, context: Any) -> str:
        name = self.options.teacher or (context.base_name if context is not None else None)
        if not name:
            raise ZooError("distill has no teacher: set 'teacher: <entry>' in the step, or 'base: <entry>' in the "
                           "recipe")
        return name

    def check(self, model: nn.Module, info: dict[str, Any], context: Any = None) -> None:
        """Raise ``ZooError`` unless the teacher exists with weights and encodes data exactly as the student does."""
        if context is None:
            return
        name = self._teacher_name(context)
        teacher = context.load_teacher(name)
        keys = sorted(set(info) | set(teacher.info), key=lambda key: (key not in _ENCODING_KEYS, key))
        differing = [key for key in keys if info.get(key) != teacher.info.get(key)]
        if differing:
            details = "; ".join(f"{key}: teacher {_short(teacher.info.get(key))}, student {_short(info.get(key))}"
                                for key in differing[:3])
            raise ZooError(f"distill teacher {name!r} encodes data differently from the student ({details}), so its "
                           f"outputs do not line up with the student's; use a teacher trained with the same data "
                           f"section, including the tokenizer")
        with tempfile.TemporaryDirectory() as folder:
            files = context.dataset.save_artifacts(Path(folder))
            changed = [file for file in files if not (teacher.entry.path / file).is_file()
                       or not filecmp.cmp(Path(folder) / file, teacher.entry.path / file, shallow=False)]
        if changed:
            raise ZooError(f"distill teacher {name!r} has a different tokenizer from the student: "
                           f"{', '.join(changed)} differ in {teacher.entry.path}; train the student on the teacher's "
                           f"tokenizer (the same data section) or pick another teacher")

    def apply(self, model: nn.Module, context: Any) -> nn.Module:
        """Train ``model`` for the recipe's ``train.max_steps`` on the mixed soft and hard loss; return it."""
        teacher = context.load_teacher(self._teacher_name(context)).model.eval()
        for parameter in teacher.parameters():
            parameter.requires_grad_(False)
        hard_loss = context.trainer.loss
        temperature, alpha = self.options.temperature, self.options.alpha

        def loss(student: nn.Module, batch: tuple) -> torch.Tensor:
            captured: list[torch.Tensor] = []
            handle = student.register_forward_hook(lambda module, args, output: captured.append(output))
            try:
                hard = hard_loss(student, batch)
            finally:
                handle.remove()
            if len(captured) != 1 or not torch.is_tensor(captured[0]):
                raise ZooError("distill needs a trainer whose loss calls the model once and gets logits; this "
                               "trainer's loss did not")
            inputs = first_tensor(batch)
            with torch.no_grad():
                teacher.to(inputs.device)
                target = teacher(inputs)
            if target.shape != captured[0].shape:
                raise ZooError(f"distill teacher outputs {tuple(target.shape)} but the student {tuple(captured[0].shape)}; "
                               f"teacher and student must predict the same classes or tokens")
            return alpha * soft_target_loss(captured[0], target, temperature) + (1 - alpha) * hard

        return context.train(model, loss=loss)

    def restore(self, model: nn.Module, info: dict[str, Any]) -> nn.Module:
        """Return the model unchanged: the student is an ordinary model of the recipe's architecture."""
        return model
