"""``zoo train``, ``zoo eval`` and ``zoo generate``."""

from __future__ import annotations

import logging
import math
import os
import sys
from pathlib import Path

import typer

from zoo_registry import ValidationError, Problem, ZooError, get_registry, resolve_entry

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


def _check_range(problems: list, name: str, value, low, high, text: str) -> None:
    if value is not None and not (low <= value <= high):
        problems.append(Problem("command line", name, f"{value!r} is out of range; {text}"))


@app.command("generate")
def generate_command(
    name: str = typer.Argument(..., help="Text entry with weights."),
    prompt: str = typer.Argument("", help="Text to continue; may be empty."),
    max_new_tokens: int = typer.Option(200, "--max-new-tokens", "-n", help="Number of tokens to generate."),
    temperature: float = typer.Option(0.8, "--temperature", "-t", help="Sampling temperature; 0 means greedy."),
    top_k: int = typer.Option(None, "--top-k", help="Sample only from the k most likely tokens."),
    top_p: float = typer.Option(None, "--top-p", help="Sample from the smallest set of tokens whose probability reaches p."),
    seed: int = typer.Option(None, "--seed", help="Seed for sampling, for repeatable output."),
) -> None:
    """Continue a prompt with a language-model entry.

    Examples:

        zoo generate char-gpt "ROMEO:" --max-new-tokens 300

        zoo generate char-gpt "" --temperature 0
    """
    problems: list[Problem] = []
    _check_range(problems, "--max-new-tokens", max_new_tokens, 1, 1_000_000, "use a value from 1 to 1000000")
    _check_range(problems, "--temperature", temperature, 0.0, 100.0, "use 0 (greedy) up to 100")
    if top_k is not None and top_k < 1:
        problems.append(Problem("command line", "--top-k", f"{top_k!r} is out of range; use 1 or more"))
    if top_p is not None and not (0.0 < top_p <= 1.0):
        problems.append(Problem("command line", "--top-p", f"{top_p!r} is out of range; use a value in (0, 1]"))
    if problems:
        raise ValidationError(problems)

    import torch

    from ..runner import load_entry

    entry = resolve_with_weights(name)
    loaded = load_entry(entry)
    if not hasattr(loaded.dataset, "encode") or not hasattr(loaded.model, "generate"):
        raise ZooError(f"entry {entry.label} ({entry.zoo.get('task')}) does not generate text; "
                       f"use 'zoo eval {entry.name}' instead")
    ids = loaded.dataset.encode(prompt)
    block_size = loaded.block_size
    if block_size and len(ids) > block_size:
        logging.getLogger("zoo").warning("the prompt has %d tokens; keeping its last %d (the model's context)",
                                         len(ids), block_size)
        ids = ids[-block_size:]
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    if not ids:
        ids = [loaded.dataset.encode("\n")[0]] if _encodable(loaded.dataset, "\n") else [0]
        start = 1
    else:
        start = len(ids)
    idx = torch.tensor([ids], dtype=torch.long)
    out = loaded.model.generate(idx, max_new_tokens, temperature=temperature, top_k=top_k, top_p=top_p,
                                generator=generator)
    text = loaded.dataset.decode(out[0, start:].tolist())
    sys.stdout.write(prompt + text + "\n")


def _encodable(dataset, text: str) -> bool:
    try:
        return bool(dataset.encode(text))
    except ZooError:
        return False
