"""Entries and where they are found.

The search path, first match wins:

1. ``./cards`` of the current project,
2. folders of entries shipped by plugins, in plugin load order,
3. the store, ``$ZOO_HOME/entries/<name>/<version>/`` (default ``~/.cache/zoo``).

A name can carry a store version, ``char-gpt@v2``; without one the latest
store version is used.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from huggingface_hub import ModelCard

from ._card import read_card, zoo_fields
from ._errors import EntryNotFoundError, ValidationError, close_matches
from ._plugins import Registry

CARD_FILE = "README.md"
RECIPE_FILE = "recipe.yaml"
WEIGHTS_FILE = "model.safetensors"
_VERSION = re.compile(r"^v(\d+)$")


def zoo_home() -> Path:
    """Return the store root: ``$ZOO_HOME`` or ``~/.cache/zoo``."""
    return Path(os.environ.get("ZOO_HOME") or Path.home() / ".cache" / "zoo")


def store_entries_dir() -> Path:
    return zoo_home() / "entries"


@dataclass
class Entry:
    """One entry folder and where it was found."""

    name: str
    path: Path
    source: str
    version: str | None = None
    card: ModelCard | None = None
    card_error: str | None = None
    shadows: list["Entry"] = field(default_factory=list)

    @property
    def zoo(self) -> dict[str, Any]:
        return zoo_fields(self.card) if self.card is not None else {}

    @property
    def has_weights(self) -> bool:
        return (self.path / WEIGHTS_FILE).is_file()

    @property
    def recipe_path(self) -> Path:
        return self.path / RECIPE_FILE

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}" if self.version else self.name


def _load(name: str, path: Path, source: str, version: str | None = None) -> Entry:
    entry = Entry(name=name, path=path, source=source, version=version)
    try:
        entry.card = read_card(path / CARD_FILE)
    except ValidationError as error:
        entry.card_error = "; ".join(str(p) for p in error.problems)
    return entry


def _is_entry(path: Path) -> bool:
    return path.is_dir() and not path.name.startswith(".") and (
        (path / CARD_FILE).is_file() or (path / RECIPE_FILE).is_file())


def store_versions(name: str) -> list[str]:
    """Return the complete store versions of ``name``, oldest first."""
    folder = store_entries_dir() / name
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p.name) for p in folder.iterdir() if (m := _VERSION.match(p.name)) and p.is_dir()]
    return [name for _, name in sorted(found)]


def _sources(registry: Registry, cwd: Path) -> list[tuple[str, Path]]:
    sources = [("project", cwd / "cards")]
    sources += [(f"plugin {plugin.distribution}", folder) for plugin, folder in registry.entry_dirs()]
    return sources


def find_entries(registry: Registry, cwd: str | Path | None = None) -> list[Entry]:
    """Return every entry on the search path; a name found twice keeps the first and records the rest."""
    cwd = Path(cwd or Path.cwd())
    found: dict[str, Entry] = {}
    seen_dirs: set[Path] = set()

    def add(entry: Entry) -> None:
        if entry.name in found:
            found[entry.name].shadows.append(entry)
        else:
            found[entry.name] = entry

    for source, folder in _sources(registry, cwd):
        if not folder.is_dir() or folder.resolve() in seen_dirs:
            continue
        seen_dirs.add(folder.resolve())
        for path in sorted(folder.iterdir()):
            if _is_entry(path):
                add(_load(path.name, path, source))

    store = store_entries_dir()
    if store.is_dir():
        for folder in sorted(store.iterdir()):
            versions = store_versions(folder.name)
            if versions:
                add(_load(folder.name, folder / versions[-1], "store", versions[-1]))
    return sorted(found.values(), key=lambda e: e.name)


def resolve_entry(registry: Registry, name: str, cwd: str | Path | None = None) -> Entry:
    """Find one entry by name, or ``name@version`` for a store version."""
    if not name.strip():
        raise EntryNotFoundError("the entry name is empty; give an entry name, name@version or a folder path "
                                 "(run 'zoo list' to see the entries)")
    base, sep, version = name.partition("@")
    if sep:
        versions = store_versions(base)
        if version not in versions:
            listing = ", ".join(versions) or "none"
            raise EntryNotFoundError(
                f"entry {base!r} has no store version {version!r}; versions in {store_entries_dir() / base}: {listing}"
            )
        return _load(base, store_entries_dir() / base / version, "store", version)
    path = Path(name)
    if (path.is_dir() or "/" in name) and _is_entry(path):
        return _load(path.resolve().name, path.resolve(), "folder")
    entries = find_entries(registry, cwd)
    for entry in entries:
        if entry.name == name:
            return entry
    hint = close_matches(name, [e.name for e in entries])
    raise EntryNotFoundError(f"no entry named {name!r}.{hint} Run 'zoo list' to see the entries.")
