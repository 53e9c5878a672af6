"""The comparison of a compressed entry with its base: rows for the CLI table and the card's Markdown."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass
class Row:
    """One measured quantity of the base and of the compressed model."""

    name: str
    base: float | int | None
    compressed: float | int | None
    unit: str = ""
    kind: str = "ratio"
    """Form of the change column: ``ratio`` (compressed / base) or ``relative`` (percent change)."""

    def change(self) -> str:
        if self.base is None or self.compressed is None or not self.base or any(
                isinstance(v, float) and math.isnan(v) for v in (self.base, self.compressed)):
            return "-"
        if self.kind == "relative":
            return f"{(self.compressed - self.base) / abs(self.base):+.2%}"
        return f"{self.compressed / self.base:.3f}x"

    def as_dict(self) -> dict[str, Any]:
        return {"base": self.base, "compressed": self.compressed, "unit": self.unit, "change": self.change()}


def format_value(value: float | int | None, unit: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if unit == "bytes":
        return f"{value / 1e6:.3f} MB"
    if isinstance(value, int):
        return f"{value:,}"
    if unit == "ms":
        return f"{value:.3f} ms"
    if unit.endswith("/s"):
        return f"{value:,.0f} {unit}"
    return f"{value:.4f}"


def table_rows(rows: list[Row]) -> list[list[str]]:
    return [[row.name, format_value(row.base, row.unit), format_value(row.compressed, row.unit), row.change()]
            for row in rows]


def comparison_markdown(rows: list[Row], base_label: str, name: str, steps: list[str], hardware: str,
                        trainings: list[dict[str, Any]]) -> str:
    """Return the card's results section: the steps, the comparison table and how it was measured."""
    lines = ["## Compression results", "", f"Base entry: `{base_label}`. Steps, in order: "
             + ", ".join(f"`{step}`" for step in steps) + ".", "",
             f"| | {base_label} | {name} | change |", "|---|---|---|---|"]
    lines += [f"| {cells[0]} | {cells[1]} | {cells[2]} | {cells[3]} |" for cells in table_rows(rows)]
    lines += ["", f"Measured by `zoo compress` on {hardware}, both models in the same process, alternating. "
              "Latency is one example (batch 1) through the model's forward; throughput is one batch of the "
              "recipe's batch size; generation is greedy decoding from a one-token prompt. The CPU may be shared, "
              "so treat the speed rows as indications and use `benchmarks/` for the measured targets."]
    for training in trainings:
        lines.append(f"- {training['compressor']}: {training['steps']:,} training steps, {training['units']:,} "
                     f"units, {training['elapsed_s']:.0f} s")
    return "\n".join(lines)
