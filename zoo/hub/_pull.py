"""``zoo pull``: fetch a remote entry, verify every file, and register it as a new store version."""

from __future__ import annotations

import importlib.metadata
import json
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from zoo_registry import (CARD_FILE, ValidationError, WeightsError, card_problems, read_card,
                          store_entries_dir, store_versions, zoo_fields)

from .. import store
from .._atomic import write_json_atomic
from ..weights import WEIGHTS_SUFFIX, check_entry_weights, check_safetensors, sha256_of
from ._files import RemoteFile, check_names, select_files, verify_remote_file
from ._folder import FolderSource
from ._hub import HubSource
from ._remote import HUB, parse_remote, store_name

PULL_RECORD = ".zoo-pull.json"


@dataclass(frozen=True)
class PluginStatus:
    """A plugin distribution an entry needs, the version it was made with, and the installed one."""

    distribution: str
    required: str | None
    installed: str | None

    @property
    def install_command(self) -> str:
        spec = f"{self.distribution}=={self.required}" if self.required else self.distribution
        return f"pip install '{spec}'"


@dataclass
class PullResult:
    """The store version a pull registered, or found already registered."""

    name: str
    version: str
    path: Path
    source: str
    commit: str
    files: dict[str, str]
    ignored: list[str] = field(default_factory=list)
    already_present: bool = False
    plugins: list[PluginStatus] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"


def plugin_report(zoo: dict[str, Any]) -> list[PluginStatus]:
    """Return the status of every plugin distribution named in the card's ``zoo.plugins``."""
    plugins = zoo.get("plugins")
    if not isinstance(plugins, dict):
        return []
    report = []
    for distribution, required in sorted(plugins.items()):
        try:
            installed = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            installed = None
        report.append(PluginStatus(str(distribution), None if required is None else str(required), installed))
    return report


def read_pull_record(version_dir: Path) -> dict[str, Any] | None:
    """Return the pull record of a store version, or None for a version that was not pulled."""
    path = version_dir / PULL_RECORD
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def _same_source(record: dict[str, Any], source: dict[str, Any], commit: str) -> bool:
    keys = ("kind", "source", "endpoint")
    return record.get("commit") == commit and all(record.get(k) == source.get(k) for k in keys)


def _previous_pull(name: str, source: dict[str, Any], commit: str, hashes: dict[str, str],
                   label: str) -> str | None:
    """Find an earlier pull of the same commit and check the files against its record; return its version."""
    for version in reversed(store_versions(name)):
        record = read_pull_record(store_entries_dir() / name / version)
        if record is None or not _same_source(record, source, commit):
            continue
        recorded = record.get("files") or {}
        for file_name in sorted(set(recorded) | set(hashes)):
            expected, actual = recorded.get(file_name), hashes.get(file_name)
            if expected != actual:
                raise WeightsError(
                    f"file {file_name} of {label} differs from the copy pulled before as "
                    f"{name}@{version}: expected sha256 {expected} (recorded then), got {actual}. The remote or the "
                    f"local cache was changed; check it, or remove the old version with 'zoo rm {name}@{version}'")
        return version
    return None


def _check_entry(folder: Path, wanted: list[RemoteFile], label: str) -> dict[str, Any]:
    """Check the card and every weights file of a fetched entry; return the card's zoo fields."""
    card_path = folder / CARD_FILE
    card = read_card(card_path)
    problems = card_problems(card, f"{label}: {CARD_FILE}")
    if problems:
        raise ValidationError(problems)
    zoo = zoo_fields(card)
    weights = [f.name for f in wanted if f.name.endswith(WEIGHTS_SUFFIX)]
    check_entry_weights(folder, zoo.get("weights") or {}, names=weights)
    return zoo


def _copy_verified(folder: Path, staged: Path, hashes: dict[str, str], label: str) -> None:
    for name, expected in hashes.items():
        target = staged / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(folder / name, target)
        actual = sha256_of(target)
        if actual != expected:
            raise WeightsError(f"file {folder / name} ({name} of {label}) changed while it was copied: expected "
                               f"sha256 {expected}, got {actual}. Run the pull again")


def pull_entry(target: str, *, name: str | None = None) -> PullResult:
    """Pull ``namespace/repo[@revision]`` or a folder remote into the store as a new version of ``name``.

    Nothing is written before the file names are checked. Nothing is registered before every
    file matches the remote's hashes and every weights file matches the card's sha256.
    """
    remote = parse_remote(target)
    entry_name = store_name(remote, name)
    if remote.kind == HUB:
        source: HubSource | FolderSource = HubSource(remote.location, remote.revision)
    else:
        source = FolderSource(remote.location, remote.revision)

    with source.session():
        commit, files = source.list_files()
        label = f"{remote.location}@{commit}"
        check_names(files, label)
        selection = select_files(files, label)
        folder = source.fetch(selection.names)

        for file in selection.wanted:
            if file.name.endswith(WEIGHTS_SUFFIX):
                check_safetensors(folder / file.name)  # reports what a bad file contains before any hash mismatch
        hashes = {f.name: verify_remote_file(f, folder / f.name, label) for f in selection.wanted}
        zoo = _check_entry(folder, selection.wanted, label)

        record = dict(source.record)
        previous = _previous_pull(entry_name, record, commit, hashes, label)
        if previous is not None:
            return PullResult(entry_name, previous, store_entries_dir() / entry_name / previous, remote.location,
                              commit, hashes, selection.ignored_pickles, True, plugin_report(zoo))

        staged = store.staging_dir(entry_name)
        try:
            _copy_verified(folder, staged, hashes, label)
            record.update(commit=commit, files=hashes, ignored=selection.ignored_pickles,
                          pulled_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
            write_json_atomic(staged / PULL_RECORD, record)
        except BaseException:
            store.discard(staged)
            raise
        published = store.publish(entry_name, staged)
    return PullResult(entry_name, published.name, published, remote.location, commit, hashes,
                      selection.ignored_pickles, False, plugin_report(zoo))

