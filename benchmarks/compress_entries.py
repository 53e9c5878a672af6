"""Build the compressed zoo entries from their cards and check their targets against their bases.

Each entry is built with ``zoo compress <entry>`` (the same code path) into the
store, which measures base and compressed model side by side in one process.
For char-gpt-distilled the same student is also trained from scratch, with the
same recipe and steps and no teacher, to compare validation losses.

    ./dev python benchmarks/compress_entries.py
    ./dev python benchmarks/compress_entries.py char-gpt-int8 digits-cnn-pruned --json results.json

The base entries (char-gpt, char-lstm, digits-cnn) must be trained first.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
from datetime import datetime
from pathlib import Path

import yaml

from zoo.compression import compress, plan_compression, table_rows
from zoo.runner._train import train
from zoo_registry import ZooError, get_registry, load_recipe, parse_yaml, validate, zoo_home

CARDS = Path(__file__).resolve().parents[1] / "cards"
ENTRIES = ("char-gpt-int8", "char-lstm-int8", "char-gpt-pruned", "char-gpt-distilled", "digits-cnn-pruned")


def scratch_student(entry: str) -> dict[str, float]:
    """Train the entry's model from scratch with its own train section and no compress steps; return the metrics."""
    data = copy.deepcopy(load_recipe(CARDS / entry / "recipe.yaml", get_registry()).resolved)
    data.pop("base", None)
    data.pop("compress", None)
    recipe = validate(parse_yaml(yaml.safe_dump(data), f"{entry} without its teacher"), get_registry())
    recipe = dataclasses.replace(recipe, runner=dataclasses.replace(recipe.runner, checkpoint_interval=0))
    run_dir = zoo_home() / "runs" / f"{entry}-scratch" / datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir.mkdir(parents=True)
    return train(recipe, run_dir, resume=False).metrics


def targets(entry: str, rows: dict[str, dict], extra: dict) -> list[str]:
    """Return one line per target of the entry: the measured value and whether it was met."""
    def ratio(name: str) -> float:
        return rows[name]["compressed"] / rows[name]["base"]

    lines = []
    if entry == "char-gpt-int8":
        size = ratio("file size")
        loss = ratio("val_loss") - 1
        lines.append(f"file size {size:.3f}x of char-gpt (target <= 0.35x): {'met' if size <= 0.35 else 'missed'}")
        lines.append(f"val_loss {loss:+.2%} (target within 2%): {'met' if abs(loss) <= 0.02 else 'missed'}")
    if entry == "char-gpt-distilled":
        distilled, scratch = extra["distilled_val_loss"], extra["scratch_val_loss"]
        lines.append(f"val_loss distilled {distilled:.4f} vs scratch {scratch:.4f} (target: lower): "
                     f"{'met' if distilled < scratch else 'missed'}")
    if entry == "digits-cnn-pruned":
        metric = next(name for name in rows if name.endswith("_accuracy"))
        drop = (rows[metric]["base"] - rows[metric]["compressed"]) * 100
        lines.append(f"{metric} drop {drop:.2f} points (target <= 1): {'met' if drop <= 1 else 'missed'}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("entries", nargs="*", default=list(ENTRIES), help="Entries to build (default: all).")
    parser.add_argument("--json", type=Path, default=None, help="Also write the results to this JSON file.")
    args = parser.parse_args()

    results = {}
    for entry in args.entries:
        try:
            plan = plan_compression(entry, [], [])
        except ZooError as error:
            print(f"## {entry}: skipped: {error}\n")
            continue
        result = compress(plan)
        rows = {row.name: row.as_dict() for row in result.rows}
        extra = {}
        if entry == "char-gpt-distilled":
            extra = {"distilled_val_loss": result.metrics["val_loss"],
                     "scratch_val_loss": scratch_student(entry)["val_loss"]}
        results[entry] = {"base": result.base_label, "path": str(result.path), "rows": rows, **extra,
                          "hardware": result.zoo["lineage"]["hardware"], "trainings": result.zoo["compression"]["trainings"]}
        print(f"## {entry} (from {result.base_label}, stored in {result.path})\n")
        print(f"| | {result.base_label} | {entry} | change |\n|---|---|---|---|")
        for cells in table_rows(result.rows):
            print("| " + " | ".join(cells) + " |")
        for line in targets(entry, rows, extra):
            print(f"- {line}")
        print()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
