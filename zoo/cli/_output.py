"""Terminal output for the CLI: one console for tables, one for errors, JSON for scripts."""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Iterable

from rich.console import Console
from rich.table import Table


def _width() -> int | None:
    # Piped output would otherwise wrap at 80 columns and cut table cells.
    return None if sys.stdout.isatty() else int(os.environ.get("COLUMNS", "160"))


def console() -> Console:
    return Console(width=_width(), highlight=False)


def error_console() -> Console:
    return Console(stderr=True, highlight=False, width=_width())


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def print_table(title: str | None, columns: Iterable[str], rows: Iterable[Iterable[Any]], *, empty: str = "") -> None:
    """Print rows as a table, or ``empty`` when there are none."""
    rows = [["" if v is None else str(v) for v in row] for row in rows]
    out = console()
    if not rows:
        if empty:
            out.print(empty)
        return
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False, header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row)
    out.print(table)


def format_count(value: Any) -> str:
    """Format a parameter count as 1.2K / 3.4M / 5.6B."""
    if not isinstance(value, int) or isinstance(value, bool):
        return "-"
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if value >= size:
            return f"{value / size:.1f}{unit}"
    return str(value)
