"""Plugin discovery and the component registry.

Each entry point of the ``zoo`` group is loaded and registered on its own, so
a plugin that fails to import, whose hook raises or that returns malformed
declarations is recorded as broken while every other plugin keeps working.
pluggy's bulk ``load_setuptools_entrypoints`` is not used for this reason: it
stops at the first plugin that raises.
"""

from __future__ import annotations

import importlib.metadata as metadata
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy

from . import _hookspecs
from ._components import KINDS, ComponentSpec
from ._errors import ComponentConflictError, UnknownComponentError, close_matches

ENTRY_POINT_GROUP = "zoo"
DISABLE_AUTOLOAD_ENV = "ZOO_DISABLE_PLUGIN_AUTOLOAD"
PLUGINS_ENV = "ZOO_PLUGINS"


@dataclass
class PluginInfo:
    """Record of one plugin, loaded or broken: its components, entry folders or error."""

    name: str
    distribution: str
    version: str
    components: list[ComponentSpec] = field(default_factory=list)
    entry_dirs: list[Path] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class Resolved:
    """A component found by name, with the plugin that provides it."""

    spec: ComponentSpec
    plugin: PluginInfo

    @property
    def qualified_name(self) -> str:
        return f"{self.plugin.name}:{self.spec.name}"


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class Registry:
    """All loaded plugins and the components they declare."""

    def __init__(self) -> None:
        self.plugins: list[PluginInfo] = []
        self._manager = pluggy.PluginManager(_hookspecs.PROJECT)
        self._manager.add_hookspecs(_hookspecs)

    # Loading

    def load_entry_points(self) -> None:
        """Load the plugins of the ``zoo`` entry-point group, honouring the autoload switches.

        With ``ZOO_DISABLE_PLUGIN_AUTOLOAD=1`` only the plugins named in
        ``ZOO_PLUGINS`` (comma-separated entry-point or distribution names) load.
        """
        autoload = os.environ.get(DISABLE_AUTOLOAD_ENV, "").strip().lower() in ("", "0", "false", "no")
        wanted = {n.strip() for n in os.environ.get(PLUGINS_ENV, "").split(",") if n.strip()}
        seen: set[tuple[str, str]] = set()
        for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = entry_point.dist
            dist_name = dist.metadata["Name"] if dist is not None else "unknown"
            version = dist.version if dist is not None else "unknown"
            # The same distribution can be visible twice on sys.path (an
            # editable install plus a source tree); load it once.
            if (entry_point.name, dist_name) in seen:
                continue
            seen.add((entry_point.name, dist_name))
            if not autoload and entry_point.name not in wanted and dist_name not in wanted:
                continue
            info = PluginInfo(name=entry_point.name, distribution=dist_name, version=version)
            try:
                plugin = entry_point.load()
            except Exception as error:  # a broken plugin must not break the others
                info.error = f"import of {entry_point.value!r} failed: {_one_line(error)}"
                self.plugins.append(info)
                continue
            self.add_plugin(plugin, info)

    def add_plugin(self, plugin: Any, info: PluginInfo) -> PluginInfo:
        """Register one plugin object, call its hooks and record the result."""
        self.plugins.append(info)
        try:
            self._manager.register(plugin, name=info.name)
        except Exception as error:
            info.error = f"registration failed: {_one_line(error)}"
            return info

        others = [p for p in self._manager.get_plugins() if p is not plugin]
        try:
            declared = self._manager.subset_hook_caller("zoo_components", others)()
            entry_dirs = self._manager.subset_hook_caller("zoo_entry_dirs", others)()
        except Exception as error:
            info.error = f"hook raised {_one_line(error)}"
            self._manager.unregister(plugin)
            return info

        problems: list[str] = []
        for result in declared:
            if not isinstance(result, (list, tuple)):
                problems.append(f"zoo_components returned {type(result).__name__}, expected a list of ComponentSpec")
                continue
            for spec in result:
                if not isinstance(spec, ComponentSpec):
                    problems.append(f"zoo_components returned {spec!r}, expected a ComponentSpec")
                    continue
                problems.extend(f"component {spec.name!r}: {p}" for p in spec.problems())
                if not spec.problems():
                    info.components.append(spec)
        for result in entry_dirs:
            if not isinstance(result, (list, tuple)):
                problems.append(f"zoo_entry_dirs returned {type(result).__name__}, expected a list of paths")
                continue
            for item in result:
                if not isinstance(item, (str, os.PathLike)):
                    problems.append(f"zoo_entry_dirs returned {item!r}, expected a path")
                elif not Path(item).is_dir():
                    problems.append(f"entry folder {str(item)!r} does not exist")
                else:
                    info.entry_dirs.append(Path(item))
        if problems:
            info.error = "malformed declarations: " + "; ".join(problems)
            info.components.clear()
            info.entry_dirs.clear()
            self._manager.unregister(plugin)
        return info

    # Lookup

    def components(self, kind: str | None = None) -> list[Resolved]:
        """Return every declared component, optionally of one kind, sorted by kind and name."""
        found = [
            Resolved(spec, plugin)
            for plugin in self.plugins
            if plugin.ok
            for spec in plugin.components
            if kind is None or spec.kind == kind
        ]
        return sorted(found, key=lambda r: (KINDS.index(r.spec.kind), r.spec.name, r.plugin.name))

    def conflicts(self) -> dict[tuple[str, str], list[Resolved]]:
        """Return the (kind, name) pairs declared by more than one plugin."""
        by_key: dict[tuple[str, str], list[Resolved]] = {}
        for resolved in self.components():
            by_key.setdefault((resolved.spec.kind, resolved.spec.name), []).append(resolved)
        return {key: found for key, found in by_key.items() if len(found) > 1}

    def resolve(self, kind: str, name: str) -> Resolved:
        """Find the component ``name`` of ``kind``; ``plugin:name`` picks one plugin's."""
        if kind not in KINDS:
            raise ValueError(f"kind {kind!r} is invalid: use one of {', '.join(KINDS)}")
        candidates = self.components(kind)
        plugin_name, sep, bare = name.rpartition(":")
        if sep:
            matches = [
                r for r in candidates
                if r.spec.name == bare and plugin_name in (r.plugin.name, r.plugin.distribution)
            ]
        else:
            matches = [r for r in candidates if r.spec.name == name]

        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            owners = ", ".join(f"{r.plugin.distribution} (as '{r.qualified_name}')" for r in matches)
            raise ComponentConflictError(
                f"{kind} {name!r} is declared by more than one plugin: {owners}. "
                f"Use the qualified name to pick one, or uninstall one of the distributions."
            )
        hint = close_matches(bare if sep else name, sorted({r.spec.name for r in candidates}))
        listing = ", ".join(sorted({r.spec.name for r in candidates})) or "none installed"
        raise UnknownComponentError(
            f"unknown {kind} {name!r}.{hint} Installed {kind}s: {listing}. "
            f"Run 'zoo plugins' to see what is installed."
        )

    def entry_dirs(self) -> list[tuple[PluginInfo, Path]]:
        """Return the entry folders shipped by loaded plugins, in load order."""
        return [(p, d) for p in self.plugins if p.ok for d in p.entry_dirs]


_cached: Registry | None = None


def get_registry(*, refresh: bool = False) -> Registry:
    """Return the process-wide registry, loading entry points on first use."""
    global _cached
    if _cached is None or refresh:
        registry = Registry()
        registry.load_entry_points()
        _cached = registry
    return _cached

