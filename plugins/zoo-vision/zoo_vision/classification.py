"""The ``image-classification`` trainer: cross-entropy loss, accuracy, precision, recall and a confusion matrix."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from zoo_registry import DataError

from ._plot import write_confusion_matrix
from .options import ClassificationOptions

logger = logging.getLogger(__name__)

CONFUSION_MATRIX_FILE = "confusion_matrix.png"


class ImageClassificationTrainer:
    """Train on ``(images (B, C, H, W), labels (B,))`` batches; evaluation sums are additive across batches."""

    primary_metric = "accuracy"
    higher_is_better = True
    unit = "images"

    def __init__(self, options: ClassificationOptions, info: dict[str, Any]):
        self.options = options
        self.num_classes = int(info["num_classes"])
        self.class_names = [str(n) for n in info.get("class_names") or range(self.num_classes)]
        self.top_k = min(options.top_k, self.num_classes)
        if self.top_k < options.top_k:
            logger.warning("train.top_k is %d but the dataset has %d classes; reporting top%d_accuracy instead",
                           options.top_k, self.num_classes, self.top_k)

    def loss(self, model: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        images, labels = batch
        logits = model(images)  # (B, num_classes)
        return F.cross_entropy(logits.float(), labels, label_smoothing=self.options.label_smoothing)

    def count(self, batch: tuple[torch.Tensor, torch.Tensor]) -> int:
        return int(batch[1].numel())

    def eval_sums(self, model: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Return this batch's summed loss, correct and top-k correct counts, image count and confusion matrix.

        The loss here is plain cross-entropy without label smoothing, so it
        compares across recipes. ``confusion[i, j]`` counts images of class i
        predicted as class j.
        """
        images, labels = batch
        with torch.no_grad():
            logits = model(images).float()  # (B, num_classes)
        predicted = logits.argmax(dim=1)
        top_k = logits.topk(self.top_k, dim=1).indices  # (B, k)
        pairs = labels * self.num_classes + predicted
        confusion = torch.bincount(pairs, minlength=self.num_classes**2).view(self.num_classes, self.num_classes)
        return {
            "loss_sum": F.cross_entropy(logits, labels, reduction="sum"),
            "correct": (predicted == labels).sum(),
            "top_k_correct": (top_k == labels.unsqueeze(1)).any(dim=1).sum(),
            "count": torch.tensor(labels.numel(), device=labels.device),
            "confusion": confusion,
        }

    def metrics(self, sums: dict[str, torch.Tensor]) -> dict[str, float]:
        """Return loss, accuracy, top-k accuracy and macro precision and recall (and per class, when enabled).

        Macro averages run over the classes that occur in the labels or the
        predictions, as scikit-learn's ``precision_score(average="macro")``
        does; a class never predicted has precision 0.
        """
        count = int(sums["count"])
        if count == 0:
            raise DataError("evaluation saw no images because the split is empty; "
                            "raise data.val_fraction or data.test_fraction")
        precision, recall, present = _precision_recall(sums["confusion"].double().cpu())
        values = {
            "loss": float(sums["loss_sum"]) / count,
            "accuracy": int(sums["correct"]) / count,
            f"top{self.top_k}_accuracy": int(sums["top_k_correct"]) / count,
            "macro_precision": float(precision[present].mean()),
            "macro_recall": float(recall[present].mean()),
        }
        if self.options.per_class_metrics:
            for index in range(self.num_classes):
                values[f"precision_{index}"] = float(precision[index])
                values[f"recall_{index}"] = float(recall[index])
        return values

    def report(self, sums: dict[str, torch.Tensor], folder: Path) -> dict[str, str]:
        """Write the confusion matrix, with per-class precision and recall, as a PNG into ``folder``."""
        confusion = sums["confusion"].long().cpu()
        precision, recall, _ = _precision_recall(confusion.double())
        write_confusion_matrix(Path(folder) / CONFUSION_MATRIX_FILE, confusion, self.class_names,
                               precision.tolist(), recall.tolist())
        return {"Confusion matrix": CONFUSION_MATRIX_FILE}


def _precision_recall(confusion: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return per-class precision, recall and a mask of the classes that occur, from a float (C, C) matrix."""
    true_positives = confusion.diagonal()
    predicted = confusion.sum(dim=0)
    actual = confusion.sum(dim=1)
    precision = torch.where(predicted > 0, true_positives / predicted.clamp_min(1), torch.zeros_like(true_positives))
    recall = torch.where(actual > 0, true_positives / actual.clamp_min(1), torch.zeros_like(true_positives))
    return precision, recall, (predicted > 0) | (actual > 0)


__all__ = ["CONFUSION_MATRIX_FILE", "ImageClassificationTrainer"]
