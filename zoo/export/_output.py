"""Where exports go: checked output paths, written under a temporary name and renamed into place."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from zoo_registry import ZooError


def check_output(path: Path, force: bool) -> None:
    """Raise ``ZooError`` when ``path`` exists and ``force`` is off, or when its parent folder is missing."""
    if path.exists() and not force:
        raise ZooError(f"{path} already exists; pass --force to replace it, or choose another path with --output")
    if not path.parent.is_dir():
        raise ZooError(f"the folder {path.parent} does not exist; create it first or choose another --output")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


@contextmanager
def staged_folder(path: Path, force: bool) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``path``; on success it replaces ``path``, on error it is removed."""
    check_output(path, force)
    staged = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        yield staged
        _replace(staged, path)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise


@contextmanager
def staged_file(path: Path, force: bool) -> Iterator[Path]:
    """Yield a temporary file path beside ``path``; on success it replaces ``path``, on error it is removed."""
    check_output(path, force)
    staged = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        yield staged
        _replace(staged, path)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise


def _replace(staged: Path, path: Path) -> None:
    # A folder cannot be renamed onto a non-empty one, so the old output moves aside first.
    if path.exists() or path.is_symlink():
        trash = path.with_name(f".{path.name}.old-{uuid.uuid4().hex[:8]}")
        os.rename(path, trash)
        os.rename(staged, path)
        _remove(trash)
    else:
        os.rename(staged, path)
