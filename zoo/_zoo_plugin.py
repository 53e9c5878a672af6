"""The zoo distribution's own plugin: it ships the first-party entries in ``zoo.cards``.

It is registered through the same ``zoo`` entry-point group as every other
plugin, so the first-party zoo has no private path into the registry.
"""

from __future__ import annotations

from importlib.resources import files

from zoo_registry import hookimpl


@hookimpl
def zoo_entry_dirs() -> list[str]:
    return [str(files("zoo.cards"))]
