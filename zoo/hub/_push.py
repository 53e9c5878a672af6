"""``zoo push``: check an entry folder and upload it to a Hub repo or a folder remote as one commit."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from zoo_registry import (CARD_FILE, RECIPE_FILE, Entry, Problem, ValidationError, WeightsError, card_problems,
                          read_card, zoo_fields)

from .. import __version__
from ..weights import WEIGHTS_SUFFIX, check_entry_weights, is_pickle_file
from ._folder import push_to_folder
from ._hub import push_to_hub
from ._remote import HUB, check_revision, parse_remote


@dataclass(frozen=True)
class PushResult:
    """The remote an entry was uploaded to, and the commit that contains it."""

    entry: str
    remote: str
    revision: str | None
    commit: str
    url: str
    files: list[str]


def entry_files(folder: Path) -> dict[str, Path]:
    """Return the files of an entry folder to share, by ``/``-separated name.

    Hidden files and folders (the store's pull record, temporary files) stay local.
    Pickle files raise an error: zoo shares weights only as safetensors.
    """
    files = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        files[relative.as_posix()] = path
    pickles = [name for name in files if is_pickle_file(name)]
    if pickles:
        raise WeightsError(f"entry folder {folder} contains pickle files ({', '.join(pickles)}); zoo shares weights "
                           f"only as safetensors because loading a pickle can run code. Delete or convert them first")
    return files


def check_entry_folder(folder: Path, label: str) -> dict[str, Path]:
    """Check that an entry folder can be shared as it is; return its files."""
    files = entry_files(folder)
    card_path = folder / CARD_FILE
    problems = card_problems(card := read_card(card_path), str(card_path))
    if RECIPE_FILE not in files:
        problems.append(Problem(str(folder / RECIPE_FILE), "", f"the recipe is missing; {label} cannot be shared "
                                                               f"without the recipe that rebuilds its model"))
    if problems:
        raise ValidationError(problems)
    weights = [name for name in files if name.endswith(WEIGHTS_SUFFIX)]
    check_entry_weights(folder, zoo_fields(card).get("weights") or {}, names=weights)
    return files


def push_entry(entry: Entry, target: str, *, revision: str | None = None, private: bool = False) -> PushResult:
    """Upload ``entry`` to a Hub repo (``namespace/repo``) or a folder remote; return the commit."""
    remote = parse_remote(target, allow_revision=False)
    if revision is not None:
        check_revision(revision, "--revision")
    files = check_entry_folder(entry.path, entry.label)
    if remote.kind == HUB:
        message = f"Upload {entry.label} with zoo {__version__}"
        commit, url = push_to_hub(remote.location, files, message=message, revision=revision, private=private)
    else:
        commit, url = push_to_folder(remote.location, files, revision=revision, private=private)
    return PushResult(entry.label, remote.location, revision, commit, url, sorted(files))
