"""Declarations of the components this plugin provides. Importing this module must stay cheap."""

from __future__ import annotations

from zoo_registry import ComponentSpec, hookimpl


@hookimpl
def zoo_components() -> list[ComponentSpec]:
    return []
