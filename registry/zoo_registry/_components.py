"""Component declarations: plain records that listing reads without imports."""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from typing import Any

KINDS = ("architecture", "trainer", "compressor", "dataset")

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_TARGET = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


@dataclass(frozen=True)
class ComponentSpec:
    """One architecture, trainer, compressor or dataset that a plugin provides.

    ``target`` and ``config`` are import paths of the form ``module:attribute``.
    ``target`` names the implementation and may import torch. ``config`` names
    the dataclass of the component's recipe options and must live in a module
    that does not import torch, so recipes validate without heavy imports.
    """

    name: str
    kind: str
    target: str
    task: str = ""
    summary: str = ""
    config: str | None = None

    def problems(self) -> list[str]:
        """Return what is malformed in this declaration, empty when it is valid."""
        found = []
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            found.append(
                f"name {self.name!r} is invalid: use lowercase letters, digits, '.', '-' or '_'"
            )
        if self.kind not in KINDS:
            found.append(f"kind {self.kind!r} is invalid: use one of {', '.join(KINDS)}")
        for field_name in ("target", "config"):
            value = getattr(self, field_name)
            if value is None and field_name == "config":
                continue
            if not isinstance(value, str) or not _TARGET.match(value):
                found.append(f"{field_name} {value!r} is not an import path of the form 'module:attribute'")
        for field_name in ("task", "summary"):
            if not isinstance(getattr(self, field_name), str):
                found.append(f"{field_name} must be a string")
        return found


def load_object(path: str) -> Any:
    """Import ``module:attribute`` and return the attribute."""
    module_name, _, attribute = path.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        obj = getattr(obj, part)
    return obj
