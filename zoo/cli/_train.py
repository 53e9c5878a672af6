"""``zoo train`` and ``zoo eval``, and the lookup of the trained version of an entry."""

from __future__ import annotations

import logging
import math
import os
import sys
from pathlib import Path

import typer

from zoo_registry import ZooError, get_registry, resolve_entry

from ._app import app
from ._output import console, print_json, print_table


def _setup_logging() -> None:
    # Under a multi-process launch only rank 0 reports progress; the others log warnings and errors.
    main_process = os.environ.get("RANK", "0") == "0"
    logging.basicConfig(level=logging.INFO if main_process else logging.WARNING, format="%(message)s", stream=sys.stderr)


def resolve_with_weights(name: str):
    """Resolve ``name``, preferring the first entry on the search path that has weights.

    A first-party card and the store version trained from it share a name; the
    card contains only the recipe, so commands that need weights use the trained one.
    """
    entry = resolve_entry(get_registry(), name)
    if entry.has_weights:
        return entry
    for hidden in entry.shadows:
        if hidden.has_weights:
            return hidden
    return entry


@app.command("train", context_settings={"allow_extra_args": False})
def train_command(
    name: str = typer.Argument(..., help="Entry to train (name or path to an entry folder)."),
    overrides: list[str] = typer.Argument(None, help="Recipe overrides as section.option=value, e.g. train.lr=3e-4."),
    output: Path = typer.Option(None, "--output", "-o", help="Run folder for checkpoints and metrics "
                                "(default: $ZOO_HOME/runs/<entry>/<time>)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the latest run of the entry (or --output) from its checkpoint."),
) -> None:
    """Train an entry's recipe and publish the result as a new version in the store.

    Examples:

        zoo train char-gpt

        zoo train char-gpt train.max_steps=500 model.n_layer=2

        zoo train char-gpt --resume

        accelerate launch --num_processes 2 -m zoo train char-gpt
    """
    _setup_logging()
    from ..runner import train_entry

    entry = resolve_entry(get_registry(), name)
    published = train_entry(entry, list(overrides or []), output=output, resume=resume)
    if published is not None:
        console().print(f"trained {entry.name}: {published}\nnext: zoo eval {entry.name}")


@app.command("eval")
def eval_command(
    name: str = typer.Argument(..., help="Entry to evaluate (name, name@version or folder)."),
    check: bool = typer.Option(False, "--check", help="Compare with the metrics in the card; exit 1 when they differ "
                               "beyond the card's eval_tolerance."),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as JSON."),
) -> None:
    """Evaluate a stored entry's weights on its dataset and print the metrics.

    Examples:

        zoo eval char-gpt

        zoo eval char-gpt@v2 --check
    """
    from ..runner import evaluate_entry

    entry = resolve_with_weights(name)
    metrics = evaluate_entry(entry)
    differences = []
    if check:
        recorded = entry.zoo.get("metrics") or {}
        tolerance = float(entry.zoo.get("eval_tolerance", 0.01))
        if not recorded:
            raise ZooError(f"the card of {entry.label} records no metrics to check against")
        for key, expected in recorded.items():
            actual = metrics.get(key)
            if actual is None:
                differences.append(f"{key}: recorded {expected}, not computed now")
            elif not math.isclose(actual, expected, rel_tol=tolerance, abs_tol=1e-6):
                differences.append(f"{key}: recorded {expected}, got {actual:.6f} (tolerance {tolerance:.2%})")
    if as_json:
        print_json({"entry": entry.label, "metrics": metrics, "check_failed": differences if check else None})
    else:
        recorded = entry.zoo.get("metrics") or {}
        print_table(f"{entry.label} ({entry.path})", ["metric", "value", "card"],
                    [[k, f"{v:.6f}", recorded.get(k, "-")] for k, v in metrics.items()])
    if differences:
        raise ZooError("metrics differ from the card: " + "; ".join(differences))
    if check and not as_json:
        console().print("check passed: the metrics match the card")
