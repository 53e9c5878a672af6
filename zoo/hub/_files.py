"""The files of a remote entry: name checks, which files a pull takes, and their hashes."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from zoo_registry import CARD_FILE, RECIPE_FILE, Problem, ValidationError, WeightsError, ZooError

from ..weights import WEIGHTS_SUFFIX, is_pickle_file, sha256_of

logger = logging.getLogger("zoo.hub")

_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class RemoteFile:
    """One file as a remote lists it, with the hashes the remote states for it."""

    name: str
    size: int | None = None
    sha256: str | None = None  # content sha256: Git LFS files on the Hub, every file of a folder manifest
    git_oid: str | None = None  # git blob id (sha1) on the Hub: of the content, or of the LFS pointer


@dataclass
class Selection:
    """The files a pull takes, and the ones it leaves out."""

    wanted: list[RemoteFile]
    ignored_pickles: list[str] = field(default_factory=list)
    skipped_hidden: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.wanted]


def name_problem(name: str) -> str | None:
    """Return why ``name`` cannot be written inside an entry folder, or None when it can."""
    if not name:
        return "is empty"
    if any(ord(c) < 32 for c in name):
        return "contains control characters"
    if "\\" in name:
        return "contains a backslash, a folder separator on Windows"
    if name.startswith("/") or _DRIVE.match(name):
        return "is an absolute path"
    parts = name.split("/")
    if ".." in parts:
        return "has a '..' part, which points outside the entry folder"
    if any(part in ("", ".") for part in parts):
        return "has an empty or '.' part"
    return None


def check_names(files: list[RemoteFile], source: str) -> None:
    """Raise ``ValidationError`` listing every file name that would land outside the entry folder."""
    # A name is shown quoted and escaped when it has characters a terminal would act on.
    problems = [Problem(source, f.name if f.name.isprintable() else repr(f.name),
                        f"remote file name rejected: it {why}. Nothing was downloaded; ask the owner of {source} "
                        f"to rename or remove the file")
                for f in files if (why := name_problem(f.name)) is not None]
    if problems:
        raise ValidationError(problems)


def select_files(files: list[RemoteFile], source: str) -> Selection:
    """Choose the files to pull: no hidden files, no pickles; refuse repos that are not zoo entries.

    Pickle files are left out with a warning when safetensors weights exist, and rejected when
    they are the only weights, because loading a pickle can run code.
    """
    hidden = [f.name for f in files if any(part.startswith(".") for part in f.name.split("/"))]
    visible = [f for f in files if f.name not in hidden]
    pickles = [f.name for f in visible if is_pickle_file(f.name)]
    wanted = [f for f in visible if f.name not in pickles]
    if pickles and not any(f.name.endswith(WEIGHTS_SUFFIX) for f in wanted):
        raise WeightsError(
            f"{source} has weights only as pickle files ({', '.join(pickles)}); zoo loads weights only from "
            f"safetensors because unpickling can run arbitrary code. Ask the owner to convert them to safetensors"
        )
    if pickles:
        logger.warning("ignoring pickle files of %s: %s (zoo loads weights only from safetensors)",
                       source, ", ".join(pickles))
    names = {f.name for f in wanted}
    missing = [name for name in (CARD_FILE, RECIPE_FILE) if name not in names]
    if missing:
        listing = ", ".join(sorted(names)) or "no files"
        raise ZooError(f"{source} is not a zoo entry: it has no {' and no '.join(missing)} (it has {listing}); "
                       f"push entries with 'zoo push <entry> <remote>'")
    return Selection(wanted=wanted, ignored_pickles=pickles, skipped_hidden=hidden)


def git_blob_id(data: bytes) -> str:
    """Return the git blob id (sha1 of ``blob <size>\\0<data>``) of some content."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    """Return the Git LFS pointer text that git stores in place of a large file."""
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


def _git_blob_id_of_file(path: Path) -> str:
    digest = hashlib.sha1(b"blob %d\0" % path.stat().st_size)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_remote_file(file: RemoteFile, path: Path, source: str) -> str:
    """Check a local copy against what the remote states about it; return its sha256.

    A Hub file that git stores through LFS has the pointer's blob id, so a blob id matches
    either the content itself or the LFS pointer of the content.
    """
    size = path.stat().st_size
    if file.size is not None and size != file.size:
        raise WeightsError(f"file {path} ({file.name} of {source}) has {size} bytes but the remote lists "
                           f"{file.size}; the copy is incomplete or changed. Run the pull again")
    actual = sha256_of(path)
    if file.sha256 is not None and actual != file.sha256:
        raise WeightsError(f"file {path} ({file.name} of {source}) failed its integrity check: expected sha256 "
                           f"{file.sha256} (stated by the remote), got {actual}. Run the pull again")
    if file.git_oid is not None and file.sha256 is None:
        content_oid = _git_blob_id_of_file(path)
        if file.git_oid not in (content_oid, git_blob_id(lfs_pointer(actual, size))):
            raise WeightsError(f"file {path} ({file.name} of {source}) failed its integrity check: expected git blob "
                               f"id {file.git_oid} (stated by the remote), got {content_oid}. Run the pull again")
    return actual
