"""The local store: versioned entry folders under ``$ZOO_HOME/entries``.

A version is published by filling a temporary folder next to its final place
and renaming it to ``v<N>``. ``rename`` of a folder onto an existing, non-empty
one fails, so two processes publishing the same entry at once both end up with
complete, distinct versions, and a crash leaves at most a hidden temporary folder.

Removing a version leaves a hidden marker ``.removed-v<N>``, so a number is
never given to a second version: ``name@v3`` always means the same files.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from pathlib import Path

from zoo_registry import EntryNotFoundError, Problem, ValidationError, store_entries_dir, store_versions

_TEMP_PREFIX = ".tmp-"
_REMOVED_PREFIX = ".removed-"
_REMOVED = re.compile(rf"^{re.escape(_REMOVED_PREFIX)}v(\d+)$")
_ENTRY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")


def check_entry_name(name: str, source: str = "entry name") -> None:
    """Raise ``ValidationError`` unless ``name`` can name a store entry (one safe folder name)."""
    if not _ENTRY_NAME.match(name) or name.endswith("."):
        raise ValidationError([Problem(source, "", f"{name!r} is not a valid entry name; use letters, digits, '.', "
                                                    f"'_' and '-', starting with a letter or digit (at most 96)")])


def _check_folder_name(name: str) -> None:
    # Looser than check_entry_name: card folder names become store names as they are.
    if not name or name.startswith(".") or "/" in name or "\\" in name or "\0" in name:
        raise ValueError(f"{name!r} cannot name a store folder")


def staging_dir(name: str) -> Path:
    """Create and return an empty temporary folder on the store's file system for a new version of ``name``."""
    _check_folder_name(name)
    parent = store_entries_dir() / name
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=_TEMP_PREFIX, dir=parent))


def _next_number(parent: Path, name: str) -> int:
    numbers = [int(version[1:]) for version in store_versions(name)]
    numbers += [int(m.group(1)) for path in parent.iterdir() if (m := _REMOVED.match(path.name))]
    return max(numbers, default=0) + 1


def publish(name: str, staged: Path) -> Path:
    """Move a filled staging folder into place as the next version of ``name``; return its path."""
    if not any(staged.iterdir()):
        # rename() replaces an empty folder, so an empty version could later be overwritten.
        raise ValueError(f"staging folder {staged} is empty; there is nothing to publish")
    parent = store_entries_dir() / name
    while True:
        target = parent / f"v{_next_number(parent, name)}"
        try:
            os.rename(staged, target)
        except OSError:
            if target.exists():
                continue  # another process took this number first; try the next one
            raise
        return target


def discard(staged: Path) -> None:
    """Remove a staging folder that will not be published."""
    shutil.rmtree(staged, ignore_errors=True)


def remove(name: str, version: str | None = None) -> list[str]:
    """Remove one store version of ``name``, or all of them; return the removed versions.

    Each version is first renamed to a hidden name, so readers see it complete or not at all.
    """
    _check_folder_name(name)
    parent = store_entries_dir() / name
    versions = store_versions(name)
    if version is not None and version not in versions:
        listing = ", ".join(versions) or "none"
        raise EntryNotFoundError(f"entry {name!r} has no store version {version!r}; versions in {parent}: {listing}")
    if not versions:
        raise EntryNotFoundError(f"entry {name!r} has no versions in the store ({parent}); "
                                 f"'zoo rm' removes only trained or pulled versions. Run 'zoo list' to see the entries.")
    targets = [version] if version is not None else versions
    for target in targets:
        # The marker goes first: a concurrent publish that misses the folder finds the marker.
        (parent / f"{_REMOVED_PREFIX}{target}").touch()
        trash = parent / f"{_TEMP_PREFIX}rm-{target}-{uuid.uuid4().hex[:8]}"
        os.rename(parent / target, trash)
        shutil.rmtree(trash)
    return targets
