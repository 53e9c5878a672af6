"""Run a compression plan: check every step, apply them, evaluate and measure, and publish the new entry."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from huggingface_hub import ModelCard

from zoo_registry import (CARD_FILE, RECIPE_FILE, WEIGHTS_FILE, Recipe, get_registry, new_card, parse_yaml,
                          update_zoo_fields, validate)

from .. import store
from .._atomic import write_text_atomic
from ..runner import load_entry
from ..runner._build import block_size_of, build_model, build_trainer, load_target, plugin_versions
from ..runner._evaluate import evaluate_split, prefixed
from ..runner._publish import (DEFAULT_EVAL_TOLERANCE, RESULTS_END, RESULTS_START, hardware_summary, replace_results,
                               write_config)
from ..weights import save_weights
from ._context import CompressContext
from ._measure import can_generate, measure_speed, nonzero_count, weight_count
from ._plan import Plan
from ._report import Row, comparison_markdown

logger = logging.getLogger("zoo.compress")

GENERATE_TOKENS = 200


@dataclass
class Compressed:
    """The outcome of ``compress``: where the entry went and how it compares with its base."""

    name: str
    path: Path | None
    base_label: str
    model: torch.nn.Module
    metrics: dict[str, float]
    base_metrics: dict[str, float]
    rows: list[Row]
    zoo: dict[str, Any] = field(default_factory=dict)


def _check(compressor: Any, model: torch.nn.Module, info: dict[str, Any], context: CompressContext) -> None:
    """Call ``check(model, info)``, passing the context too when the compressor's check accepts it."""
    if len(inspect.signature(compressor.check).parameters) >= 3:
        compressor.check(model, info, context)
    else:
        compressor.check(model, info)


def evaluate(model: torch.nn.Module, recipe: Recipe, dataset: Any, trainer: Any) -> tuple[dict[str, float], str]:
    """Return the model's metrics on the validation (and test) split on the CPU, and the primary split."""
    from accelerate import Accelerator

    accelerator = Accelerator(cpu=True)
    metrics: dict[str, float] = {}
    splits = [s for s in ("val", "test") if s in dataset.splits()]
    for split_name in splits:
        split = dataset.split(split_name, block_size_of(recipe))
        sums = evaluate_split(accelerator, model, trainer, dataset, split, recipe.runner.batch_size)
        metrics.update(prefixed(split_name, trainer.metrics(sums)))
    return metrics, ("test" if "test" in splits else "val")


def _final_recipe(recipe: Recipe) -> Recipe:
    """Validate the recipe again with the options the steps filled in (pruned shapes, ranks)."""
    data = copy.deepcopy(recipe.resolved)
    data["compress"] = [{"compressor": step.component.spec.name, **dataclasses.asdict(step.options)}
                        for step in recipe.compress]
    import yaml

    doc = parse_yaml(yaml.safe_dump(data, sort_keys=False), recipe.source)
    return validate(doc, get_registry())


def _speed_inputs(context: CompressContext,
                  generate_tokens: int) -> tuple[torch.Tensor, torch.Tensor, int, torch.Tensor | None, int]:
    batch = context.batches("val", 1)[0]
    inputs = batch[0]
    prompt = inputs[:1, :1] if inputs.dtype == torch.long and inputs.dim() == 2 else None
    block_size = block_size_of(context.recipe)
    # Generating up to the context length keeps the timing on the KV-cache path of cached models.
    tokens = min(generate_tokens, block_size - 1) if block_size and block_size > 1 else generate_tokens
    return inputs[:1], inputs, int(context.trainer.count(batch)), prompt, tokens


def compress(plan: Plan, *, publish: bool = True, speed_rounds: int = 10, generate_tokens: int = GENERATE_TOKENS) -> Compressed:
    """Apply the plan's new steps to its base and, with ``publish``, store the result as entry ``plan.name``.

    ``speed_rounds`` and ``generate_tokens`` size the speed measurement of the comparison table.
    """
    recipe = plan.recipe
    base = load_entry(plan.base)
    info = base.info
    trainer = build_trainer(recipe, info)
    context = CompressContext(recipe=recipe, name=plan.name, base_name=plan.base.name, dataset=base.dataset,
                              info=info, trainer=trainer)
    steps = [(section.component.spec.name, load_target(section)(section.options)) for section in plan.new_steps]

    # Start: the base's weights, or a fresh model from the recipe for a step that trains one (distill).
    if getattr(steps[0][1], "trains_new_model", False):
        torch.manual_seed(recipe.runner.seed)
        model = build_model(recipe, info)
    else:
        model = copy.deepcopy(base.model)

    # Check every step before any of them runs, so bad input fails before minutes of work.
    for name, compressor in steps:
        context.compressor = name
        _check(compressor, model, info, context)

    # Apply the steps in order.
    for name, compressor in steps:
        context.compressor = name
        logger.info("applying %s", name)
        model = compressor.apply(model, context).eval()

    # Evaluate and measure both models side by side.
    metrics, split = evaluate(model, recipe, base.dataset, trainer)
    base_metrics, _ = evaluate(base.model, plan.base_recipe, base.dataset, base.trainer)
    final = _final_recipe(recipe)
    staged = store.staging_dir(plan.name) if publish else None
    try:
        rows, zoo = _compare_and_describe(plan, final, context, model, base.model, metrics, base_metrics, split, staged,
                                          speed_rounds, generate_tokens)
        if staged is not None:
            _write_entry(plan, final, context, staged, zoo, rows)
    except BaseException:
        if staged is not None:
            store.discard(staged)
        raise
    path = store.publish(plan.name, staged) if staged is not None else None
    return Compressed(name=plan.name, path=path, base_label=plan.base.label, model=model, metrics=metrics,
                      base_metrics=base_metrics, rows=rows, zoo=zoo)


def _compare_and_describe(plan: Plan, final: Recipe, context: CompressContext, model: torch.nn.Module,
                          base_model: torch.nn.Module, metrics: dict[str, float], base_metrics: dict[str, float],
                          split: str, staged: Path | None, speed_rounds: int,
                          generate_tokens: int) -> tuple[list[Row], dict[str, Any]]:
    sha = None
    size = None
    if staged is not None:
        sha = save_weights(model, staged / WEIGHTS_FILE)
        size = (staged / WEIGHTS_FILE).stat().st_size
    base_size = (plan.base.path / WEIGHTS_FILE).stat().st_size
    single, batch, units, prompt, tokens = _speed_inputs(context, generate_tokens)
    speeds = measure_speed({"base": base_model, "compressed": model}, single, batch, units,
                           rounds=speed_rounds, generate_tokens=tokens, prompt=prompt)
    trainer = context.trainer
    primary = f"{split}_{trainer.primary_metric}"
    rows = [
        Row("file size", base_size, size, "bytes"),
        Row("weights", weight_count(base_model), weight_count(model), "count"),
        Row("non-zero weights", nonzero_count(base_model), nonzero_count(model), "count"),
        Row(primary, base_metrics.get(primary), metrics.get(primary), "", "relative"),
        Row("latency (batch 1)", speeds["base"].latency.median * 1000, speeds["compressed"].latency.median * 1000, "ms"),
        Row(f"throughput (batch {batch.size(0)})", speeds["base"].throughput.rate,
            speeds["compressed"].throughput.rate, f"{trainer.unit}/s"),
    ]
    if speeds["base"].generation is not None and speeds["compressed"].generation is not None:
        rows.append(Row(f"generation ({tokens} tokens)", speeds["base"].generation.rate,
                        speeds["compressed"].generation.rate, "tokens/s"))
    hardware = hardware_summary("cpu", 1)
    trainings = [dataclasses.asdict(t) for t in context.trainings]
    zoo = {
        "architecture": final.model.component.spec.name,
        "task": final.model.component.spec.task or final.train.component.spec.task,
        "parameters": weight_count(model),
        "metrics": {k: round(v, 6) for k, v in metrics.items()},
        "primary_metric": primary,
        "eval_tolerance": DEFAULT_EVAL_TOLERANCE,
        "weights": {WEIGHTS_FILE: sha},
        "plugins": plugin_versions(final),
        "base": plan.base.name,
        "lineage": {
            "source_entry": plan.base.label,
            "recipe_sha256": final.hash,
            "data": context.dataset.fingerprint(),
            "steps": sum(t["steps"] for t in trainings),
            "units": sum(t["units"] for t in trainings),
            "unit": trainer.unit,
            "training_time_s": round(sum(t["elapsed_s"] for t in trainings), 1),
            "hardware": hardware,
            "mixed_precision": final.runner.mixed_precision if trainings else "no",
            "torch": str(torch.__version__),
            "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        },
        "compression": {
            "base": plan.base.label,
            "steps": final.resolved["compress"],
            "comparison": {row.name: row.as_dict() for row in rows},
            "trainings": trainings,
            "can_generate": can_generate(model),
        },
    }
    return rows, zoo


def _write_entry(plan: Plan, final: Recipe, context: CompressContext, staged: Path, zoo: dict[str, Any],
                 rows: list[Row]) -> None:
    write_config(staged, final, context.info)
    context.dataset.save_artifacts(staged)
    write_text_atomic(staged / RECIPE_FILE, f"# Resolved recipe written by zoo compress from {plan.base.label}\n"
                      + final.to_yaml())
    card = _card(plan, zoo)
    update_zoo_fields(card, **zoo)
    section = comparison_markdown(rows, plan.base.label, plan.name, [s["compressor"] for s in final.resolved["compress"]],
                                  zoo["lineage"]["hardware"], zoo["compression"]["trainings"])
    lineage = zoo["lineage"]
    lines = [RESULTS_START, section, "", "### Metrics", "", "| metric | value |", "|---|---|"]
    lines += [f"| {name} | {value:.4f} |" for name, value in zoo["metrics"].items()]
    lines += ["", f"- Weights: {zoo['parameters']:,}", f"- Recipe sha256: `{lineage['recipe_sha256']}`"]
    lines += [f"- Data `{name}` sha256: `{digest}`" for name, digest in lineage["data"].items()]
    lines += ["- Versions: " + ", ".join(f"{k} {v}" for k, v in zoo["plugins"].items()), RESULTS_END]
    card.text = replace_results(card.text, "\n".join(lines))
    write_text_atomic(staged / CARD_FILE, str(card))


def _card(plan: Plan, zoo: dict[str, Any]) -> ModelCard:
    if plan.card_source is not None and plan.card_source.card is not None:
        return ModelCard(str(plan.card_source.card))
    base_data = plan.base.card.data.to_dict() if plan.base.card is not None else {}
    steps = ", ".join(s["compressor"] for s in zoo["compression"]["steps"])
    body = f"# {plan.name}\n\n`{plan.base.label}` compressed with {steps} by `zoo compress`.\n"
    return new_card(zoo=zoo, body=body, pipeline_tag=base_data.get("pipeline_tag") or zoo["task"] or None,
                    license=base_data.get("license"), datasets=base_data.get("datasets"),
                    tags=[*(base_data.get("tags") or []), "compressed"])
