"""Folder remotes: ``zoo push`` and ``zoo pull`` with ``file://`` URLs and plain paths, for shared disks
and machines without network. The Hub side of the layout comparison is ``hub_server.HubStandIn``, a
stand-in for the Hugging Face Hub on 127.0.0.1 (no network here)."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hub_server import HubStandIn
from hub_testing import TOKEN, entry_files, flat, machine, sha256, write_entry, zoo_on


@pytest.fixture
def first(zoo_env, tmp_path):
    box = machine(tmp_path, "first")
    box["entry"] = write_entry(box["root"] / "entry", entry_files())
    return box


def _json(result) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _content_id(files: dict[str, bytes]) -> str:
    hashes = {name: sha256(data) for name, data in sorted(files.items())}
    return hashlib.sha256(json.dumps(hashes, separators=(",", ":")).encode()).hexdigest()


def test_folder_round_trip(first, tmp_path):
    shared = tmp_path / "shared" / "team" / "model"
    (first["entry"] / "notes.txt").write_text("first push\n")
    pushed = _json(zoo_on(first, "push", str(first["entry"]), f"file://{shared}", "--json"))
    files = {p.name: p.read_bytes() for p in first["entry"].iterdir()}
    assert pushed["commit"] == _content_id(files)
    assert pushed["url"] == shared.as_uri()
    assert sorted(p.name for p in shared.iterdir()) == sorted([".zoo-lock", ".zoo-manifest.json", *files])
    manifest = json.loads((shared / ".zoo-manifest.json").read_text())
    assert manifest["commit"] == pushed["commit"]
    assert manifest["files"] == {name: {"sha256": sha256(data), "size": len(data)} for name, data in files.items()}

    second = machine(tmp_path, "second", HF_HUB_OFFLINE="1")
    pulled = _json(zoo_on(second, "pull", str(shared), "--json"))
    assert pulled["entry"] == "model@v1"
    assert pulled["commit"] == pushed["commit"]
    stored = second["home"] / "entries" / "model" / "v1"
    assert {p.name: p.read_bytes() for p in stored.iterdir() if p.name != ".zoo-pull.json"} == files
    record = json.loads((stored / ".zoo-pull.json").read_text())
    assert (record["kind"], record["source"], record["commit"]) == ("folder", str(shared), pushed["commit"])
    assert _json(zoo_on(second, "pull", f"file://{shared}", "--json"))["already_present"]

    (first["entry"] / "notes.txt").unlink()
    write_entry(first["entry"], entry_files(seed=1))
    again = _json(zoo_on(first, "push", str(first["entry"]), str(shared), "--json"))
    assert again["commit"] != pushed["commit"]
    assert not (shared / "notes.txt").exists()
    newer = _json(zoo_on(second, "pull", str(shared), "--json"))
    assert newer["entry"] == "model@v2"
    assert newer["commit"] == again["commit"]


def test_folder_layout_matches_hub_repo(first, tmp_path):
    with HubStandIn({TOKEN}) as hub:
        on_hub = _json(zoo_on(first, "push", str(first["entry"]), "team/model", "--json",
                              HF_ENDPOINT=hub.url, HF_TOKEN=TOKEN, HF_HUB_OFFLINE="0"))
        repo = {name: f.data for name, f in hub.files("team/model").items() if not name.startswith(".")}
    shared = tmp_path / "shared"
    on_folder = _json(zoo_on(first, "push", str(first["entry"]), str(shared), "--json"))
    folder = {p.name: p.read_bytes() for p in shared.iterdir() if not p.name.startswith(".")}
    assert folder == repo
    assert on_folder["files"] == on_hub["files"]


def test_folder_without_manifest(first, tmp_path):
    files = entry_files()
    copy = write_entry(tmp_path / "copied-entry", {**files, ".git/config": b"[core]\n"})
    second = machine(tmp_path, "second")
    pulled = _json(zoo_on(second, "pull", str(copy), "--json"))
    assert pulled["commit"] == _content_id(files)
    assert sorted(pulled["files"]) == sorted(files)
    assert _json(zoo_on(second, "pull", f"{copy}@{_content_id(files)}", "--as", "pinned", "--json"))["commit"] == \
        _content_id(files)


def test_folder_revision_must_match(first, tmp_path):
    shared = tmp_path / "shared"
    commit = _json(zoo_on(first, "push", str(first["entry"]), str(shared), "--json"))["commit"]
    assert _json(zoo_on(first, "pull", f"{shared}@{commit}", "--json"))["commit"] == commit
    other = "f" * 64
    result = zoo_on(first, "pull", f"{shared}@{other}", "--as", "other")
    assert result.returncode == 1
    assert (f"error: folder remote {shared} is at commit {commit}, not {other}; a folder keeps only its latest "
            f"push. Pull it without '@{other}'") in flat(result.stderr)


def test_folder_push_rejects_hub_options(first, tmp_path):
    shared = tmp_path / "shared"
    revision = zoo_on(first, "push", str(first["entry"]), str(shared), "--revision", "dev")
    assert revision.returncode == 1
    assert (f"error: --revision applies to Hub repos; folder remote {shared} keeps one revision. Push to another "
            f"folder instead") in flat(revision.stderr)
    private = zoo_on(first, "push", str(first["entry"]), str(shared), "--private")
    assert private.returncode == 1
    assert f"error: --private applies to Hub repos; set the permissions of folder {shared} instead" in \
        flat(private.stderr)
    with_revision = zoo_on(first, "push", str(first["entry"]), f"{shared}@dev")
    assert with_revision.returncode == 1
    assert f"'{shared}@dev' carries a revision; pass the branch with --revision instead" in flat(with_revision.stderr)
    assert not shared.exists()


def test_folder_missing_or_incomplete(first, tmp_path):
    missing = zoo_on(first, "pull", str(tmp_path / "nowhere"))
    assert missing.returncode == 1
    assert f"error: folder remote {tmp_path / 'nowhere'} does not exist or is not a folder" in flat(missing.stderr)

    shared = tmp_path / "shared"
    assert zoo_on(first, "push", str(first["entry"]), str(shared)).returncode == 0
    (shared / "config.json").unlink()
    incomplete = zoo_on(first, "pull", str(shared))
    assert incomplete.returncode == 1
    assert (f"error: folder remote {shared} is missing 1 file(s) listed in its manifest: config.json; push the entry "
            f"to it again") in flat(incomplete.stderr)

    (shared / ".zoo-manifest.json").write_text("{not json")
    broken = zoo_on(first, "pull", str(shared))
    assert broken.returncode == 1
    assert f"error: {shared / '.zoo-manifest.json'} is invalid (" in flat(broken.stderr)


def _waits_for_lock(pid: int) -> bool:
    """Return True when process ``pid`` is blocked on a file lock (Linux lists waiters with '->')."""
    return any("->" in line.split() and str(pid) in line.split()
               for line in Path("/proc/locks").read_text().splitlines())


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="needs Linux /proc/locks to see a blocked lock")
def test_folder_pull_waits_for_push_in_progress(first, tmp_path):
    shared = tmp_path / "shared"
    assert zoo_on(first, "push", str(first["entry"]), str(shared)).returncode == 0
    second = machine(tmp_path, "second")
    with open(shared / ".zoo-lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # what a push holds while it replaces the files
        pull = subprocess.Popen([sys.executable, "-m", "zoo", "pull", str(shared)], cwd=second["cwd"],
                                env={**os.environ, **second["env"]}, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while not _waits_for_lock(pull.pid) and pull.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _waits_for_lock(pull.pid), "the pull did not wait for the lock"
        assert not (second["home"] / "entries" / "shared").exists()
        fcntl.flock(lock, fcntl.LOCK_UN)
    out, err = pull.communicate(timeout=120)
    assert pull.returncode == 0, err
    assert (second["home"] / "entries" / "shared" / "v1").is_dir()
