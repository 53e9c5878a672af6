"""A folder remote: an entry folder on a shared disk, laid out like a Hub repo.

The folder contains the entry's files at the top, as a Hub repo does, plus two hidden
files: ``.zoo-manifest.json`` (the commit id and every file's sha256 and size) and
``.zoo-lock``. A push holds an exclusive lock on ``.zoo-lock`` while it replaces the
files and writes the manifest last; a pull holds a shared lock while it reads, so it
never sees half a push. A folder without a manifest, such as a copied entry or a git
checkout of a Hub repo, can be pulled too; its hashes are then computed on the spot.

The commit id of a folder is the sha256 of its sorted file hashes, so the same files
always give the same id. A folder keeps no history: it has exactly one revision.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from zoo_registry import EntryNotFoundError, Problem, ValidationError, ZooError

from .._atomic import write_json_atomic
from ..weights import sha256_of
from ._files import RemoteFile, name_problem

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

MANIFEST_FILE = ".zoo-manifest.json"
LOCK_FILE = ".zoo-lock"
_STAGING_PREFIX = ".zoo-staging-"


def content_id(hashes: dict[str, str]) -> str:
    """Return the commit id of a set of files: the sha256 of their sorted name-to-sha256 mapping."""
    text = json.dumps(dict(sorted(hashes.items())), separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@contextmanager
def _locked(root: Path, *, exclusive: bool) -> Iterator[None]:
    path = root / LOCK_FILE
    if fcntl is None or (not exclusive and not path.is_file()):
        # NOTE: without fcntl (Windows) or a lock file, readers rely on the hash checks alone.
        yield
        return
    with open(path, "a+" if exclusive else "r") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_manifest(root: Path) -> dict | None:
    path = root / MANIFEST_FILE
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        files = manifest["files"]
        commit = manifest["commit"]
        if not (isinstance(files, dict) and isinstance(commit, str)
                and all(isinstance(v, dict) and isinstance(v.get("sha256"), str) for v in files.values())):
            raise TypeError("unexpected field types")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as error:
        raise ZooError(f"{path} is invalid ({error}); push the entry to the folder again, or delete the file to "
                       f"pull the folder by its content") from None
    return manifest


def _walk(root: Path) -> list[str]:
    names = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        for file in sorted(files):
            if not file.startswith("."):
                names.append((Path(folder) / file).relative_to(root).as_posix())
    return names


class FolderSource:
    """A folder remote read for a pull."""

    def __init__(self, root: str, revision: str | None):
        self.root = Path(root)
        self.revision = revision
        self.commit: str | None = None

    @property
    def record(self) -> dict[str, str | None]:
        return {"kind": "folder", "source": str(self.root), "revision": self.revision}

    @contextmanager
    def session(self) -> Iterator[None]:
        with _locked(self.root, exclusive=False):
            yield

    def list_files(self) -> tuple[str, list[RemoteFile]]:
        if not self.root.is_dir():
            raise EntryNotFoundError(f"folder remote {self.root} does not exist or is not a folder")
        manifest = _read_manifest(self.root)
        if manifest is not None:
            files = [RemoteFile(name, size=info.get("size"), sha256=info["sha256"])
                     for name, info in sorted(manifest["files"].items())]
            self.commit = manifest["commit"]
        else:
            root, files = self.root.resolve(), []
            for name in _walk(self.root):
                path = self.root / name
                if path.resolve().is_relative_to(root) and path.is_file():
                    files.append(RemoteFile(name, size=path.stat().st_size, sha256=sha256_of(path)))
                else:
                    files.append(RemoteFile(name))  # never read: fetch() refuses it with the reason
            self.commit = content_id({f.name: f.sha256 or "" for f in files})
        if self.revision is not None and self.revision != self.commit:
            raise EntryNotFoundError(f"folder remote {self.root} is at commit {self.commit}, not {self.revision}; "
                                     f"a folder keeps only its latest push. Pull it without '@{self.revision}'")
        return self.commit, files

    def fetch(self, names: list[str]) -> Path:
        """Check that every file is a regular file inside the folder; return the folder."""
        root = self.root.resolve()
        problems, missing = [], []
        for name in names:
            path = self.root / name
            if not path.resolve().is_relative_to(root):
                problems.append(Problem(str(self.root), name, f"rejected: it is a symbolic link to {path.resolve()}, "
                                                              f"outside the remote folder. Nothing was copied"))
            elif not path.is_file():
                missing.append(name)  # absent, or not a regular file (a folder, a pipe, a device)
        if problems:
            raise ValidationError(problems)
        if missing:
            raise ZooError(f"folder remote {self.root} is missing {len(missing)} file(s) listed in its manifest: "
                           f"{', '.join(missing)}; push the entry to it again")
        return self.root


def push_to_folder(root: str, files: dict[str, Path], *, revision: str | None, private: bool) -> tuple[str, str]:
    """Replace the entry in folder ``root`` with ``files``; return the commit id and the folder's URL."""
    if revision is not None:
        raise ZooError(f"--revision applies to Hub repos; folder remote {root} keeps one revision. "
                       f"Push to another folder instead")
    if private:
        raise ZooError(f"--private applies to Hub repos; set the permissions of folder {root} instead")
    folder = Path(root)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ZooError(f"cannot create folder remote {folder}: {error}") from None
    with _locked(folder, exclusive=True):
        previous = _read_manifest(folder)
        staging = Path(tempfile.mkdtemp(prefix=_STAGING_PREFIX, dir=folder))
        try:
            listed = {}
            for name, source in sorted(files.items()):
                copy = staging / name
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, copy)
                listed[name] = {"sha256": sha256_of(copy), "size": copy.stat().st_size}
            commit = content_id({name: info["sha256"] for name, info in listed.items()})
            for name in listed:
                target = folder / name
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging / name, target)
            root = folder.resolve()
            for name in sorted(set((previous or {}).get("files", {})) - set(listed)):
                stale = folder / name
                if name_problem(name) is None and stale.parent.resolve().is_relative_to(root):
                    stale.unlink(missing_ok=True)
            write_json_atomic(folder / MANIFEST_FILE, {
                "format": 1, "commit": commit, "files": listed,
                "pushed_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            })
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return commit, folder.resolve().as_uri()
