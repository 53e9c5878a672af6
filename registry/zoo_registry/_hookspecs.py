"""The hooks a zoo plugin implements.

A plugin is a module (or object) registered through the ``zoo`` entry-point
group. It implements any of the hooks below with ``@zoo_registry.hookimpl``.
Hooks run once, when the registry loads plugins, and must be cheap: return
declarations only and never import torch or build models there.
"""

from __future__ import annotations

from pathlib import Path

import pluggy

from ._components import ComponentSpec

PROJECT = "zoo"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def zoo_components() -> list[ComponentSpec]:
    """Declare the architectures, trainers, compressors and datasets this plugin provides.

    Called once per plugin at load time. Every plugin's list is collected; a
    declaration that is malformed marks the plugin as broken and is dropped.
    """


@hookspec
def zoo_entry_dirs() -> list[str | Path]:
    """Return folders of zoo entries that this plugin ships.

    Each folder contains one sub-folder per entry (``README.md`` and
    ``recipe.yaml``). Called once per plugin at load time; all results are used.
    """
