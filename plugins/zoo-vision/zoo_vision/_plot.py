"""The confusion-matrix figure, drawn with matplotlib's Agg backend without touching pyplot's global state."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

# Above this many classes the cells are too small for their counts to be legible.
_MAX_ANNOTATED_CLASSES = 20


def write_confusion_matrix(path: Path, confusion: torch.Tensor, class_names: list[str], precision: list[float],
                           recall: list[float]) -> None:
    """Draw counts (rows: true class, columns: predicted class) with recall per row and precision per column.

    Cells are shaded by the share of their row, so a class with few images
    still shows where its errors go. The PNG is written to a temporary name
    and renamed, so a crash leaves no half-written file.
    """
    counts = confusion.long()
    n = len(class_names)
    row_share = counts.double() / counts.sum(dim=1, keepdim=True).clamp_min(1)
    side = min(4 + 0.45 * n, 24)
    figure = Figure(figsize=(side + 1.5, side), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    shading = axes.imshow(row_share.numpy(), cmap="Blues", vmin=0, vmax=1)
    figure.colorbar(shading, ax=axes, fraction=0.046, pad=0.04, label="share of the true class")

    if n <= _MAX_ANNOTATED_CLASSES:
        for i in range(n):
            for j in range(n):
                if counts[i, j]:
                    color = "white" if row_share[i, j] > 0.5 else "black"
                    axes.text(j, i, str(int(counts[i, j])), ha="center", va="center", color=color, fontsize=8)
    axes.set_xticks(range(n), [f"{name}\nP {p:.2f}" for name, p in zip(class_names, precision)],
                    fontsize=7, rotation=90 if n > 10 else 0)
    axes.set_yticks(range(n), [f"{name}  R {r:.2f}" for name, r in zip(class_names, recall)], fontsize=7)
    axes.set_xlabel("predicted class (P: precision)")
    axes.set_ylabel("true class (R: recall)")
    axes.set_title(f"Confusion matrix, {int(counts.sum())} images")
    figure.tight_layout()

    temporary = path.with_name(f".{path.name}.tmp")
    figure.savefig(temporary, format="png")
    os.replace(temporary, path)
