"""The local store: versioned entry folders under ``$ZOO_HOME/entries``.

A version is published by filling a temporary folder next to its final place
and renaming it to ``v<N>``. ``rename`` of a folder onto an existing one fails,
so two processes publishing the same entry at once both end up with complete,
distinct versions, and a crash leaves at most a hidden temporary folder.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from zoo_registry import store_entries_dir, store_versions

_TEMP_PREFIX = ".tmp-"


def staging_dir(name: str) -> Path:
    """Create and return an empty temporary folder on the store's file system for a new version of ``name``."""
    parent = store_entries_dir() / name
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=_TEMP_PREFIX, dir=parent))


def publish(name: str, staged: Path) -> Path:
    """Move a filled staging folder into place as the next version of ``name``; return its path."""
    parent = store_entries_dir() / name
    while True:
        versions = store_versions(name)
        number = int(versions[-1][1:]) + 1 if versions else 1
        target = parent / f"v{number}"
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
