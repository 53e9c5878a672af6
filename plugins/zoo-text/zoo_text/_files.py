"""Finding data files: known files by name and checksum, and local files by path, folder or glob."""

from __future__ import annotations

import glob
import http.client
import hashlib
import logging
import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from zoo_registry import DataError, zoo_home

__all__ = ["KnownFile", "OFFLINE_VARIABLES", "data_dirs", "find_known_file", "find_text_files", "sha256_of"]

logger = logging.getLogger(__name__)

OFFLINE_VARIABLES = ("ZOO_OFFLINE", "HF_HUB_OFFLINE")
DOWNLOAD_TIMEOUT_S = 20
_CHUNK = 1 << 20


@dataclass(frozen=True)
class KnownFile:
    """A data file that zoo can find or download by name, identified by its size and sha256."""

    name: str
    sha256: str
    size: int
    url: str


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def data_dirs() -> list[Path]:
    """Return the folders searched for known files, in order: ``$ZOO_DATA``, then ``$ZOO_HOME/data``."""
    folders = []
    if os.environ.get("ZOO_DATA"):
        folders.append(Path(os.environ["ZOO_DATA"]).expanduser())
    folders.append(zoo_home() / "data")
    return folders


def _offline() -> str | None:
    for variable in OFFLINE_VARIABLES:
        if os.environ.get(variable) == "1":
            return variable
    return None


def _mismatch(path: Path, known: KnownFile) -> str | None:
    """Return how ``path`` differs from ``known`` (size or sha256), or None when it matches."""
    size = path.stat().st_size
    if size != known.size:
        return f"has {size} bytes"
    digest = sha256_of(path)
    if digest != known.sha256:
        return f"has sha256 {digest}"
    return None


def _check(path: Path, known: KnownFile) -> None:
    found = _mismatch(path, known)
    if found:
        raise DataError(
            f"{path} {found}, but {known.name} must have {known.size} bytes and sha256 {known.sha256}; "
            f"the file is damaged or a different text. Delete it, or replace it with the original from {known.url}"
        )


def _download(known: KnownFile, target: Path) -> str | None:
    """Download ``known`` to ``target`` through a temporary file; return how it differs, or None when stored."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{known.name}.", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(known.url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            shutil.copyfileobj(response, out, _CHUNK)
        found = _mismatch(Path(temporary), known)
        if found is None:
            os.replace(temporary, target)
        return found
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def find_known_file(known: KnownFile) -> Path:
    """Return the path of a verified copy of ``known``, downloading it when allowed and missing.

    The first folder of ``data_dirs()`` that has the file wins; a copy with the
    wrong size or sha256 raises ``DataError`` instead of being skipped. A
    missing file is downloaded into ``$ZOO_HOME/data`` unless ``ZOO_OFFLINE=1``
    or ``HF_HUB_OFFLINE=1``.
    """
    folders = data_dirs()
    candidates = [folder / known.name for folder in folders]
    for path in candidates:
        if path.is_file():
            _check(path, known)
            logger.info("using %s", path)
            return path

    searched = ", ".join(str(p) for p in candidates)
    place = f"Put {known.name} ({known.size} bytes, sha256 {known.sha256}) into {folders[0]}"
    if len(folders) > 1:
        place += (" (the ZOO_DATA folder)" if os.environ.get("ZOO_DATA") else "") + f" or into {folders[-1]}"
    place += f", or set ZOO_DATA to the folder that has it. The file is at {known.url}"
    offline = _offline()
    if offline:
        raise DataError(f"{known.name} was not found; searched {searched}, and {offline}=1 forbids downloading. {place}")
    target = candidates[-1]
    logger.info("downloading %s from %s to %s", known.name, known.url, target)
    try:
        found = _download(known, target)
    except (OSError, http.client.HTTPException) as error:  # URLError and timeouts are OSErrors
        reason = getattr(error, "reason", None) or error
        raise DataError(f"{known.name} was not found and the download from {known.url} failed ({reason}); "
                        f"searched {searched}. {place}") from None
    if found:
        raise DataError(f"{known.name} was not found and the file downloaded from {known.url} {found}, but it must "
                        f"have {known.size} bytes and sha256 {known.sha256}, so nothing was saved; searched "
                        f"{searched}. {place}")
    return target


def find_text_files(pattern: str) -> list[Path]:
    """Return the files that ``pattern`` names: a file, every file under a folder, or a glob, sorted."""
    path = Path(pattern).expanduser()
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file()
                       and not any(part.startswith(".") for part in p.relative_to(path).parts))
        if not files:
            raise DataError(f"the folder {path} contains no files; put text files in it or point path at a file")
        return files
    matches = sorted(Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file())
    if matches:
        return matches
    if glob.has_magic(str(path)):
        raise DataError(f"the pattern {pattern!r} matches no files (relative to {Path.cwd()}); check the pattern, "
                        f"and use '**' with a folder to match files in sub-folders")
    raise DataError(f"{path} does not exist (relative to {Path.cwd()}); set data.path to a text file, a folder "
                    f"or a glob pattern")
