"""``zoo predict``: the top classes of images under a classifier entry."""

from __future__ import annotations

from pathlib import Path

import typer

from zoo_registry import Problem, ValidationError, ZooError

from ._app import app
from ._output import print_json, print_table
from ._train import resolve_with_weights


@app.command("predict")
def predict_command(
    name: str = typer.Argument(..., help="Image-classification entry with weights."),
    images: list[Path] = typer.Argument(..., help="Image files to classify."),
    top: int = typer.Option(3, "--top", "-k", help="Number of classes to show per image."),
    batch_size: int = typer.Option(64, "--batch-size", "-b", help="Images per forward pass."),
    compile_model: bool = typer.Option(False, "--compile", help="Run the model through torch.compile; where that "
                                       "fails, print a notice and run without it. Pays off for many images."),
    as_json: bool = typer.Option(False, "--json", help="Print the predictions as JSON."),
) -> None:
    """Print the most likely classes of each image, with probabilities.

    Images are read and resized exactly as the entry's recipe preprocesses its data.

    Examples:

        zoo predict digits-cnn digit.png

        zoo predict digits-cnn *.png --top 1 --json
    """
    problems = []
    if top < 1:
        problems.append(Problem("command line", "--top", f"{top!r} is out of range; use 1 or more"))
    if batch_size < 1:
        problems.append(Problem("command line", "--batch-size", f"{batch_size!r} is out of range; use 1 or more"))
    if problems:
        raise ValidationError(problems)

    import torch

    from .._compile import compile_forward
    from ..runner import load_entry

    entry = resolve_with_weights(name)
    loaded = load_entry(entry)
    if not hasattr(loaded.dataset, "load_image"):
        raise ZooError(f"entry {entry.label} ({entry.zoo.get('task')}) does not classify images; "
                       f"use 'zoo generate' or 'zoo eval' instead")
    class_names = list(loaded.dataset.class_names)
    # Every image is read before the model runs, so an unreadable file fails fast.
    pixels = torch.stack([loaded.dataset.load_image(path) for path in images])
    if compile_model:
        compile_forward(loaded.model, "zoo predict --compile")
    with torch.no_grad():
        logits = torch.cat([loaded.model(batch) for batch in pixels.split(batch_size)])
        probabilities = torch.softmax(logits.float(), dim=-1)
    values, indices = probabilities.topk(min(top, len(class_names)), dim=-1)

    results = [
        {"image": str(path), "predictions": [{"class": class_names[i], "probability": round(float(p), 6)}
                                             for p, i in zip(row_values, row_indices.tolist())]}
        for path, row_values, row_indices in zip(images, values, indices)
    ]
    if as_json:
        print_json(results)
        return
    print_table(f"{entry.label}", ["image", "class", "probability"],
                [[r["image"] if rank == 0 else "", p["class"], f"{p['probability']:.4f}"]
                 for r in results for rank, p in enumerate(r["predictions"])])
