"""Remotes for push and pull: Hub repos and folders on a disk."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from huggingface_hub.errors import HFValidationError
from huggingface_hub.utils import validate_repo_id

from zoo_registry import Problem, ValidationError

from ..store import check_entry_name
from ._files import name_problem

HUB = "hub"
FOLDER = "folder"
_FORMS = ("use namespace/repo for a Hub repo (e.g. my-team/char-gpt), or file:///path/to/folder or a path "
          "starting with '/', './' or '~' for a folder")


@dataclass(frozen=True)
class Remote:
    """A parsed remote: a Hub repo id or an absolute folder path, and an optional revision."""

    kind: str
    location: str
    revision: str | None = None

    @property
    def label(self) -> str:
        return f"{self.location}@{self.revision}" if self.revision else self.location

    @property
    def default_name(self) -> str:
        """Return the store name a pull uses without ``--as``: the repo or folder name."""
        return self.location.rstrip("/").rpartition("/")[2]


def _problem(text: str, message: str) -> ValidationError:
    return ValidationError([Problem("command line", "remote", f"{text!r} {message}")])


def parse_remote(text: str, *, allow_revision: bool = True) -> Remote:
    """Parse ``namespace/repo[@revision]``, ``file:///folder[@revision]`` or a folder path."""
    base, revision = text, None
    head, at, tail = text.rpartition("@")
    if at and "/" not in tail:
        if not tail:
            raise _problem(text, "ends with '@' but names no revision; add a branch, tag or commit after '@'")
        if not allow_revision:
            raise _problem(text, "carries a revision; pass the branch with --revision instead")
        check_revision(tail, "remote")
        base, revision = head, tail

    if base.startswith("file://"):
        url = urlparse(base)
        if url.netloc not in ("", "localhost") or not url.path:
            raise _problem(text, "is not a local file URL; write file:///absolute/path/to/folder")
        return Remote(FOLDER, os.path.abspath(unquote(url.path)), revision)
    if base.startswith(("/", "./", "../", "~")) or base in (".", ".."):
        return Remote(FOLDER, os.path.abspath(Path(base).expanduser()), revision)
    if "://" in base:
        raise _problem(text, f"has an unsupported scheme; {_FORMS}. Set HF_ENDPOINT to use another Hub server")
    if base.count("/") != 1:
        raise _problem(text, f"is not a repo id or folder; {_FORMS}")
    try:
        validate_repo_id(base)
    except HFValidationError as error:
        raise _problem(text, f"is not a valid Hub repo id: {error}") from None
    return Remote(HUB, base, revision)


def check_revision(revision: str, field: str) -> None:
    """Raise ``ValidationError`` for a revision that cannot name a branch, tag or commit.

    The revision becomes a path in the Hugging Face cache (``refs/<revision>``), so it gets
    the same checks as a remote file name.
    """
    if name_problem(revision) is not None:
        raise ValidationError([Problem("command line", field, f"{revision!r} is not a valid revision; use a branch, "
                                                              f"tag or commit id without '..' parts, a leading '/', "
                                                              f"backslashes or control characters")])


def store_name(remote: Remote, name: str | None) -> str:
    """Return the store name for a pull, checked: ``name`` when given, else the remote's own name."""
    if name is not None:
        check_entry_name(name, "--as")
        return name
    candidate = remote.default_name
    try:
        check_entry_name(candidate, "remote")
    except ValidationError:
        raise _problem(remote.location, f"does not end in a usable entry name ({candidate!r}); "
                                        f"choose one with --as NAME") from None
    return candidate
