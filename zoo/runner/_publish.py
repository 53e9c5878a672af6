"""Turn a finished run into a store entry: weights, config, tokenizer, recipe, plots and card."""

from __future__ import annotations

import os
import platform
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from huggingface_hub import ModelCard

from zoo_registry import CARD_FILE, RECIPE_FILE, WEIGHTS_FILE, Entry, Recipe, new_card, update_zoo_fields

from .. import store
from .._atomic import write_json_atomic, write_text_atomic
from ..weights import save_weights
from ._build import options_dict, plugin_versions
from ._progress import METRICS_FILE, read_metrics
from ._train import TrainResult

CONFIG_FILE = "config.json"
LOSS_CURVE = "loss_curve.png"
RESULTS_START = "<!-- zoo:results:start -->"
RESULTS_END = "<!-- zoo:results:end -->"
DEFAULT_EVAL_TOLERANCE = 0.01


def hardware_summary(device: str, world_size: int) -> str:
    if device.startswith("cuda") and torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
    else:
        name = platform.processor() or platform.machine()
        name = f"CPU {name}, {os.cpu_count()} cores, {torch.get_num_threads()} threads"
    return f"{world_size} x {name}" if world_size > 1 else name


def parameter_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


def write_config(folder: Path, recipe: Recipe, info: dict[str, Any]) -> None:
    write_json_atomic(folder / CONFIG_FILE, {
        "architecture": recipe.model.component.spec.name,
        "architecture_plugin": recipe.model.component.plugin.distribution,
        "model": options_dict(recipe.model.options),
        "dataset": recipe.data.component.spec.name,
        "info": info,
        "compress": [s.component.spec.name for s in recipe.compress],
    })


def plot_loss_curve(records: list[dict[str, Any]], path: Path) -> bool:
    """Plot training and validation loss against steps; return False when there is nothing to plot."""
    train = [(r["step"], r["loss"]) for r in records if r.get("split") == "train" and "loss" in r]
    val = [(r["step"], r["val_loss"]) for r in records if r.get("split") == "val" and "val_loss" in r]
    if not train and not val:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 3.5), dpi=100)
    if train:
        axes.plot(*zip(*train), label="train", linewidth=1)
    if val:
        axes.plot(*zip(*val), label="validation", marker="o", markersize=3)
    axes.set_xlabel("step")
    axes.set_ylabel("loss")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return True


def results_markdown(metrics: dict[str, float], zoo: dict[str, Any], plots: dict[str, str]) -> str:
    lineage = zoo["lineage"]
    lines = [RESULTS_START, "## Results", "", "| metric | value |", "|---|---|"]
    lines += [f"| {name} | {value:.4f} |" for name, value in metrics.items()]
    lines += [
        "",
        f"- Parameters: {zoo['parameters']:,}",
        f"- Training: {lineage['steps']:,} steps, {lineage['units']:,} {lineage['unit']}, "
        f"{lineage['training_time_s']:.0f} s on {lineage['hardware']} (mixed precision: {lineage['mixed_precision']})",
        f"- Recipe sha256: `{lineage['recipe_sha256']}`",
    ]
    lines += [f"- Data `{name}` sha256: `{digest}`" for name, digest in lineage["data"].items()]
    lines += [f"- Versions: " + ", ".join(f"{k} {v}" for k, v in zoo["plugins"].items())]
    for title, file_name in plots.items():
        lines += ["", f"### {title}", "", f"![{title}]({file_name})"]
    lines.append(RESULTS_END)
    return "\n".join(lines)


def replace_results(body: str, section: str) -> str:
    """Replace the results section of a card body, or append one."""
    if RESULTS_START in body and RESULTS_END in body:
        head, _, rest = body.partition(RESULTS_START)
        _, _, tail = rest.partition(RESULTS_END)
        return f"{head}{section}{tail}"
    return f"{body.rstrip()}\n\n{section}\n"


def publish_run(result: TrainResult, recipe: Recipe, source: Entry | None, name: str, run_dir: Path) -> Path:
    """Write the run's entry into the store as the next version of ``name``; return its folder."""
    staged = store.staging_dir(name)
    try:
        sha = save_weights(result.model, staged / WEIGHTS_FILE)
        write_config(staged, recipe, result.parts.info)
        result.parts.dataset.save_artifacts(staged)
        write_text_atomic(staged / RECIPE_FILE, f"# Resolved recipe of the run in {run_dir}\n" + recipe.to_yaml())
        shutil.copyfile(run_dir / METRICS_FILE, staged / METRICS_FILE)

        plots: dict[str, str] = {}
        if plot_loss_curve(read_metrics(run_dir / METRICS_FILE), staged / LOSS_CURVE):
            plots["Loss curve"] = LOSS_CURVE
        trainer = result.parts.trainer
        report = getattr(trainer, "report", None)
        split = "test" if "test" in result.sums else "val"
        if report is not None and split in result.sums:
            plots.update(report(result.sums[split], staged))

        zoo = {
            "architecture": recipe.model.component.spec.name,
            "task": recipe.model.component.spec.task or recipe.train.component.spec.task,
            "parameters": parameter_count(result.model),
            "metrics": {k: round(v, 6) for k, v in result.metrics.items()},
            "primary_metric": f"{split}_{trainer.primary_metric}",
            "eval_tolerance": DEFAULT_EVAL_TOLERANCE,
            "weights": {WEIGHTS_FILE: sha},
            "plugins": plugin_versions(recipe),
            "lineage": {
                "source_entry": source.label if source else None,
                "recipe_sha256": recipe.hash,
                "data": result.parts.dataset.fingerprint(),
                "steps": result.steps,
                "units": int(result.units),
                "unit": trainer.unit,
                "training_time_s": round(result.elapsed_s, 1),
                "hardware": hardware_summary(result.device, result.world_size),
                "mixed_precision": result.mixed_precision,
                "torch": str(torch.__version__),
                "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            },
        }
        if recipe.base:
            zoo["base"] = recipe.base
        card = _base_card(source, recipe, zoo)
        update_zoo_fields(card, **zoo)
        card.text = replace_results(card.text, results_markdown(result.metrics, zoo, plots))
        write_text_atomic(staged / CARD_FILE, str(card))
    except BaseException:
        store.discard(staged)
        raise
    return store.publish(name, staged)


def _base_card(source: Entry | None, recipe: Recipe, zoo: dict[str, Any]) -> ModelCard:
    if source is not None and source.card is not None:
        return ModelCard(str(source.card))
    task = zoo["task"]
    body = f"# {recipe.model.component.spec.name} trained on {recipe.data.component.spec.name}\n"
    return new_card(zoo=zoo, body=body, pipeline_tag=task or None, datasets=[recipe.data.component.spec.name])
