"""The ``zoo bench`` table for the terminal, as JSON and as a section of the entry's card."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timezone
from typing import Any

from zoo_registry import CARD_FILE, Entry, read_card, update_zoo_fields

from .._atomic import write_text_atomic
from ._bench import BenchResult, VariantResult

BENCH_START = "<!-- zoo:bench:start -->"
BENCH_END = "<!-- zoo:bench:end -->"
_MB = 1e6


def _label(metric: str, unit: str) -> tuple[str, bool]:
    """Return the row label of a metric and whether higher is better."""
    if metric.startswith("latency_batch_"):
        size = metric.removeprefix("latency_batch_").removesuffix("_ms")
        return f"forward latency, batch {size} (ms)", False
    if metric.startswith("forward_") and metric.endswith("_per_s"):
        return f"forward throughput ({unit}/s)", True
    for kind in ("prefill", "decode"):
        if metric.startswith(f"{kind}_batch_"):
            size = metric.removeprefix(f"{kind}_batch_").removesuffix("_tokens_per_s")
            return f"{kind}, batch {size} (tokens/s)", True
    return metric, True


def _format(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def table(result: BenchResult) -> tuple[list[str], list[list[str]]]:
    """Return the header and rows of the comparison: one row per measurement, one column per variant.

    A cell is ``median ±spread`` (half the interquartile range); ``*`` marks the best variant of the row.
    """
    header = ["", *(v.name for v in result.variants)]
    measured = [v for v in result.variants if v.available]
    metric_names = list(dict.fromkeys(name for v in measured for name in v.metrics))
    rows = []
    for metric in metric_names:
        label, higher = _label(metric, result.unit)
        values = {v.name: v.metrics[metric].median for v in measured if metric in v.metrics}
        best = (max if higher else min)(values, key=values.get) if len(values) > 1 else None
        row = [label]
        for variant in result.variants:
            summary = variant.metrics.get(metric)
            if summary is None:
                row.append("-")
                continue
            mark = " *" if variant.name == best else ""
            row.append(f"{_format(summary.median)} ±{_format(summary.spread)}{mark}")
        rows.append(row)

    def bytes_row(label: str, value_of) -> list[str]:
        values = {v.name: value_of(v) for v in measured if value_of(v) is not None}
        best = min(values, key=values.get) if len(values) > 1 else None
        return [label, *(f"{values[v.name] / _MB:.2f}{' *' if v.name == best else ''}" if v.name in values else "-"
                         for v in result.variants)]

    rows.append(bytes_row("peak memory (MB)", lambda v: v.peak_memory_bytes))
    rows.append(bytes_row("weights in memory (MB)", lambda v: v.weights_bytes))
    rows.append(["weights (count)", *(f"{v.weights:,}" if v.weights is not None else "-" for v in result.variants)])
    rows.append(["status", *("ok" if v.available else "unavailable" for v in result.variants)])
    return header, rows


def conditions(result: BenchResult) -> str:
    """Return one line saying how the numbers were obtained."""
    text = (f"{result.entry} on {result.device} ({result.hardware}), {result.threads} threads, torch {result.torch}; "
            f"batch 1 and {result.batch_size}, median ±half the interquartile range of {result.repeats} runs after "
            f"{result.warmup} warm-up runs")
    if result.language_model:
        text += f"; generation: {result.prompt_tokens}-token prompts, {result.new_tokens} new tokens, greedy"
    return text + f"; model.safetensors {result.file_bytes / _MB:.2f} MB"


def unavailable(result: BenchResult) -> list[str]:
    return [f"{v.name}: {v.reason}" for v in result.variants if not v.available]


def as_json(result: BenchResult) -> dict[str, Any]:
    data = asdict(result)
    data["variants"] = {v.name: _variant_json(v) for v in result.variants}
    return data


def _variant_json(variant: VariantResult) -> dict[str, Any]:
    return {"available": variant.available, "reason": variant.reason,
            "metrics": {name: summary.as_dict() for name, summary in variant.metrics.items()},
            "peak_memory_bytes": variant.peak_memory_bytes, "weights_bytes": variant.weights_bytes,
            "weights": variant.weights}


def markdown(result: BenchResult, command: str) -> str:
    """Return the card section: the table in Markdown, the conditions and the command that measured it."""
    header, rows = table(result)
    lines = [BENCH_START, "## Inference speed", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines += ["", f"Measured with `{command}`: {conditions(result)}. `*` marks the best variant of each row."]
    lines += [f"- {line}" for line in unavailable(result)]
    lines.append(BENCH_END)
    return "\n".join(lines)


def _replace_section(body: str, section: str) -> str:
    if BENCH_START in body and BENCH_END in body:
        head, _, rest = body.partition(BENCH_START)
        _, _, tail = rest.partition(BENCH_END)
        return f"{head}{section}{tail}"
    return f"{body.rstrip()}\n\n{section}\n"


def write_card(entry: Entry, result: BenchResult, command: str) -> None:
    """Write the results into the entry's card: the Markdown section and the medians under ``zoo.bench``."""
    path = entry.path / CARD_FILE
    card = read_card(path)
    medians = {v.name: {name: round(summary.median, 4) for name, summary in v.metrics.items()}
               for v in result.variants if v.available}
    update_zoo_fields(card, bench={
        "device": result.device, "hardware": result.hardware, "threads": result.threads, "torch": result.torch,
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "variants": medians,
    })
    card.text = _replace_section(card.text, markdown(result, command))
    write_text_atomic(path, str(card))
