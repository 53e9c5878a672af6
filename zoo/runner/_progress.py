"""Progress reporting of a run: a bar on terminals, log lines elsewhere, and a JSONL metrics file.

Only the main process reports; the others stay silent.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

logger = logging.getLogger("zoo.runner")

METRICS_FILE = "metrics.jsonl"


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """Read a metrics JSONL file, skipping a last line cut short by a crash."""
    records = []
    if not path.is_file():
        return records
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


class Reporter:
    """Show training progress and append every record to ``metrics.jsonl`` of the run."""

    def __init__(self, run_dir: Path, total_steps: int, start_step: int, unit: str, enabled: bool):
        self.enabled = enabled
        self.unit = unit
        self.total_steps = total_steps
        self.path = run_dir / METRICS_FILE
        self._bar: Progress | None = None
        self._task = None
        self._last_time = time.perf_counter()
        self._last_count = 0
        if enabled and sys.stderr.isatty():
            self._bar = Progress(
                TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[status]}"),
                TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), transient=False,
            )
            self._task = self._bar.add_task("train", total=total_steps, completed=start_step, status="")
            self._bar.start()

    def record(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")

    def train_step(self, step: int, loss: float, lr: float, count: int, elapsed: float) -> None:
        """Report the training loss after ``step`` steps; ``count`` is the total units processed so far."""
        if not self.enabled:
            return
        now = time.perf_counter()
        rate = (count - self._last_count) / max(now - self._last_time, 1e-9)
        self._last_time, self._last_count = now, count
        self.record({"step": step, "split": "train", "loss": loss, "lr": lr, f"{self.unit}_per_s": rate, "time_s": elapsed})
        status = f"loss {loss:.4f}  {rate:,.0f} {self.unit}/s"
        if self._bar is not None:
            self._bar.update(self._task, completed=step, status=status)
        else:
            remaining = (self.total_steps - step) * elapsed / max(step, 1)
            logger.info("step %d/%d  %s  lr %.2e  eta %.0fs", step, self.total_steps, status, lr, remaining)

    def advance(self, step: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=step)

    def restart_rate(self, count: int) -> None:
        """Restart the throughput measurement, e.g. after an evaluation paused training."""
        self._last_time, self._last_count = time.perf_counter(), count

    def evaluation(self, step: int, metrics: dict[str, float], elapsed: float) -> None:
        if not self.enabled:
            return
        self.record({"step": step, "split": "val", **metrics, "time_s": elapsed})
        text = "  ".join(f"{k} {v:.4f}" for k, v in metrics.items())
        if self._bar is not None:
            self._bar.console.print(f"step {step}: {text}")
        else:
            logger.info("step %d: %s", step, text)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
