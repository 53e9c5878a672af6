"""Typed exceptions raised by the registry and by zoo.

Library code raises these and never prints or exits. The CLI is the single
boundary that turns a ``ZooError`` into one line for the user; any other
exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Iterable


class ZooError(Exception):
    """Base class of every error caused by user input or the environment."""


class PluginError(ZooError):
    """A plugin failed to load or declared something invalid."""


class UnknownComponentError(ZooError, LookupError):
    """A component name matched nothing registered."""


class ComponentConflictError(ZooError, LookupError):
    """A bare component name is declared by more than one distribution."""


class EntryNotFoundError(ZooError, LookupError):
    """No entry of that name exists on the search path."""


class MissingPluginError(ZooError):
    """An entry needs a component whose plugin is not installed."""


class WeightsError(ZooError):
    """A weights file is missing, corrupt or fails its hash check."""


class DataError(ZooError):
    """A dataset file is missing, unreadable or fails its checksum."""


@dataclass(frozen=True)
class Problem:
    """One problem found while validating a recipe, card or override."""

    file: str
    field: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class ValidationError(ZooError, ValueError):
    """A recipe, card or override has one or more problems, all reported together."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = list(problems)
        count = len(self.problems)
        header = f"{count} problem{'s' if count != 1 else ''} found:"
        super().__init__("\n".join([header, *(f"  {p}" for p in self.problems)]))


def close_matches(name: str, candidates: Iterable[str]) -> str:
    """Return a ' Did you mean ...?' suffix for the closest candidates, or ''."""
    matches = difflib.get_close_matches(name, list(candidates), n=3, cutoff=0.6)
    if not matches:
        return ""
    return " Did you mean " + " or ".join(repr(m) for m in matches) + "?"
