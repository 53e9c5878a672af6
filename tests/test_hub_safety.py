"""Safety rules of ``zoo pull``: file names from a remote, pickle files, and weights files that are
not what they claim. Hub repos are served by ``hub_server.HubStandIn``, a stand-in for the Hugging
Face Hub on 127.0.0.1 (no network here), which can serve repos that no client would upload."""

from __future__ import annotations

import hashlib
import json

import pytest

from hub_server import HubStandIn, StoredFile, lfs_pointer
from hub_testing import (TOKEN, entry_files, flat, machine, pickle_bytes, sha256, weights_bytes,
                         write_entry, zoo_on)


@pytest.fixture
def hub():
    with HubStandIn({TOKEN}) as server:
        yield server


@pytest.fixture
def box(zoo_env, tmp_path, hub):
    return machine(tmp_path, "puller", hub.url)


def _serve(hub: HubStandIn, repo_id: str, files: dict[str, bytes | StoredFile]) -> str:
    hub.create_repo(repo_id)
    return hub.put_commit(repo_id, files)


def _nothing_written(box: dict, repo_id: str, name: str) -> None:
    cache = box["hf_cache"] / f"models--{repo_id.replace('/', '--')}"
    assert not (cache / "blobs").exists()
    assert not (cache / "snapshots").exists()
    assert not (box["home"] / "entries" / name).exists()


def test_names_outside_entry_rejected(box, hub, tmp_path):
    files = entry_files()
    bad = ["../escape.json", "/tmp/absolute.json", "docs/../../up.json", "a\\..\\win.json", "C:/drive.json",
           "sub/./dot.json", "ctl\x07.json"]
    commit = _serve(hub, "team/evil", {**files, **{name: b"{}" for name in bad}})
    result = zoo_on(box, "pull", "team/evil")
    assert result.returncode == 1
    text = flat(result.stderr)
    assert "error: 7 problems found:" in text
    reasons = {
        "../escape.json": "it has a '..' part, which points outside the entry folder",
        "/tmp/absolute.json": "it is an absolute path",
        "docs/../../up.json": "it has a '..' part, which points outside the entry folder",
        "a\\..\\win.json": "it contains a backslash, a folder separator on Windows",
        "C:/drive.json": "it is an absolute path",
        "sub/./dot.json": "it has an empty or '.' part",
        "ctl\x07.json": "it contains control characters",
    }
    for name, reason in reasons.items():
        shown = name if name.isprintable() else repr(name)
        assert (f"team/evil@{commit}: {shown}: remote file name rejected: {reason}. Nothing was downloaded; ask the "
                f"owner of team/evil@{commit} to rename or remove the file") in text, name
    _nothing_written(box, "team/evil", "evil")
    assert not (box["root"] / "escape.json").exists()
    assert not (tmp_path / "escape.json").exists()
    assert [p for m, p in hub.requests if "/resolve/" in p] == []


def test_pickle_files_are_ignored_with_warning(box, hub, tmp_path):
    marker = tmp_path / "unpickled"
    files = {**entry_files(), "pytorch_model.bin": pickle_bytes(marker), "optimizer.pt": pickle_bytes(marker)}
    _serve(hub, "team/mixed", files)
    result = zoo_on(box, "pull", "team/mixed", "--json")
    assert result.returncode == 0, result.stderr
    assert "warning: ignoring pickle files of team/mixed@" in result.stderr
    assert ": optimizer.pt, pytorch_model.bin (zoo loads weights only from safetensors)" in result.stderr
    report = json.loads(result.stdout)
    assert report["ignored"] == ["optimizer.pt", "pytorch_model.bin"]
    stored = box["home"] / "entries" / "mixed" / "v1"
    assert sorted(p.name for p in stored.iterdir()) == [".zoo-pull.json", "README.md", "config.json",
                                                        "model.safetensors", "recipe.yaml"]
    assert [p for m, p in hub.requests if p.endswith((".bin", ".pt"))] == []
    pickled = {hashlib.sha256(pickle_bytes(marker)).hexdigest()}
    assert [p for p in box["hf_cache"].rglob("*") if p.name in pickled or p.suffix in (".bin", ".pt")] == []
    assert not marker.exists()


def test_pickle_only_repo_rejected(box, hub, tmp_path):
    marker = tmp_path / "unpickled"
    files = entry_files()
    del files["model.safetensors"]
    commit = _serve(hub, "team/pickled", {**files, "pytorch_model.bin": pickle_bytes(marker)})
    result = zoo_on(box, "pull", "team/pickled")
    assert result.returncode == 1
    assert (f"error: team/pickled@{commit} has weights only as pickle files (pytorch_model.bin); zoo loads weights "
            f"only from safetensors because unpickling can run arbitrary code. Ask the owner to convert them to "
            f"safetensors") in flat(result.stderr)
    _nothing_written(box, "team/pickled", "pickled")
    assert not marker.exists()


def test_non_entry_repo_rejected(box, hub):
    commit = _serve(hub, "team/plain", {"README.md": b"# just a readme\n", "notes.txt": b"hello\n"})
    result = zoo_on(box, "pull", "team/plain")
    assert result.returncode == 1
    assert (f"error: team/plain@{commit} is not a zoo entry: it has no recipe.yaml (it has README.md, notes.txt); "
            f"push entries with 'zoo push <entry> <remote>'") in flat(result.stderr)
    _nothing_written(box, "team/plain", "plain")


def _weights_case(kind: str) -> tuple[bytes, str]:
    """Return a bad model.safetensors and the content the error reports for it."""
    good = weights_bytes()
    if kind == "lfs-pointer":
        return lfs_pointer(good), ("is not safetensors: it is a Git LFS pointer (text), not the weights; fetch the "
                                   "real file with 'git lfs pull'")
    if kind == "empty":
        return b"", "is not safetensors: it is an empty file"
    if kind == "truncated":
        cut = good[: len(good) - 10]
        return cut, f"is truncated: the header describes {len(good)} bytes but the file has {len(cut)}; download or copy it again"
    if kind == "pickle-named-safetensors":
        return b"\x80\x04\x95" + b"\x00" * 40, "is not safetensors: it is a Python pickle"
    if kind == "html":
        return b"<html><body>Access denied</body></html>", "is not safetensors: it is text starting with '<html><body>Access denied</body></html>'"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["lfs-pointer", "empty", "truncated", "pickle-named-safetensors", "html"])
def test_bad_weights_file_is_named_and_described(box, hub, kind):
    data, described = _weights_case(kind)
    files = entry_files()
    # The card states the sha256 of the real weights, as the pushing side would have written it.
    files["model.safetensors"] = StoredFile(data, lfs=False)
    commit = _serve(hub, "team/broken", files)
    result = zoo_on(box, "pull", "team/broken")
    assert result.returncode == 1
    snapshot = box["hf_cache"] / "models--team--broken" / "snapshots" / commit
    assert f"error: weights file {snapshot / 'model.safetensors'} {described}" in flat(result.stderr)
    assert not (box["home"] / "entries" / "broken").exists()


def test_weights_not_matching_card_hash(box, hub):
    files = entry_files()
    other = weights_bytes(seed=7)
    files["model.safetensors"] = other
    commit = _serve(hub, "team/swapped", files)
    result = zoo_on(box, "pull", "team/swapped")
    assert result.returncode == 1
    snapshot = box["hf_cache"] / "models--team--swapped" / "snapshots" / commit
    expected = sha256(entry_files()["model.safetensors"])
    assert (f"error: weights file {snapshot / 'model.safetensors'} failed its integrity check: expected sha256 "
            f"{expected}, got {sha256(other)}.") in flat(result.stderr)
    assert not (box["home"] / "entries" / "swapped").exists()


def test_weights_missing_from_card_rejected(box, hub):
    files = entry_files()
    files["extra.safetensors"] = weights_bytes(seed=3)
    commit = _serve(hub, "team/unlisted", files)
    result = zoo_on(box, "pull", "team/unlisted")
    assert result.returncode == 1
    snapshot = box["hf_cache"] / "models--team--unlisted" / "snapshots" / commit
    assert (f"error: weights file {snapshot / 'extra.safetensors'} has no sha256 in the card (zoo.weights), so it "
            f"cannot be verified;") in flat(result.stderr)


def test_download_not_matching_remote_hash(box, hub):
    files = entry_files()
    good = files["model.safetensors"]
    flipped = bytearray(good)
    flipped[-1] ^= 0xFF
    commit = _serve(hub, "team/tampered", files)
    hub.files("team/tampered")["model.safetensors"].served = bytes(flipped)  # same size, other bytes
    result = zoo_on(box, "pull", "team/tampered")
    assert result.returncode == 1
    snapshot = box["hf_cache"] / "models--team--tampered" / "snapshots" / commit
    assert (f"error: file {snapshot / 'model.safetensors'} (model.safetensors of team/tampered@{commit}) failed its "
            f"integrity check: expected sha256 {sha256(good)} (stated by the remote), got {sha256(bytes(flipped))}. "
            f"Run the pull again") in flat(result.stderr)
    assert not (box["home"] / "entries" / "tampered").exists()


def test_card_must_be_valid(box, hub):
    files = entry_files()
    files["README.md"] = files["README.md"].replace(b"library_name: zoo", b"library_name: transformers")
    commit = _serve(hub, "team/foreign", files)
    result = zoo_on(box, "pull", "team/foreign")
    assert result.returncode == 1
    assert (f"team/foreign@{commit}: README.md: library_name: is 'transformers'; set it to 'zoo' so the Hub lists the "
            f"entry under this library") in flat(result.stderr)
    assert not (box["home"] / "entries" / "foreign").exists()


def test_pulled_code_is_never_run(box, hub, tmp_path):
    marker = tmp_path / "imported"
    code = f"open({str(marker)!r}, 'w').close()\n".encode()
    files = {**entry_files(), "zoo_text.py": code, "sitecustomize.py": code, "gpt/__init__.py": code}
    _serve(hub, "team/code", files)
    assert zoo_on(box, "pull", "team/code").returncode == 0
    stored = box["home"] / "entries" / "code" / "v1"
    listed = zoo_on(box, "list")
    assert listed.returncode == 0, listed.stderr
    info = zoo_on(box, "info", "code")
    assert info.returncode == 0, info.stderr
    assert (stored / "zoo_text.py").is_file()
    assert not marker.exists()


def test_folder_symlink_outside_rejected(box, tmp_path):
    outside = tmp_path / "outside.json"
    outside.write_text('{"secret": true}')
    remote = write_entry(tmp_path / "remote", entry_files())
    (remote / "config.json").unlink()
    (remote / "config.json").symlink_to(outside)
    result = zoo_on(box, "pull", str(remote))
    assert result.returncode == 1
    assert (f"error: 1 problem found: {remote}: config.json: rejected: it is a symbolic link to {outside}, outside the "
            f"remote folder. Nothing was copied") in flat(result.stderr)
    assert not (box["home"] / "entries" / "remote").exists()


def test_folder_manifest_bad_names_rejected(box, tmp_path):
    remote = write_entry(tmp_path / "remote", entry_files())
    assert zoo_on(box, "push", str(remote), f"file://{tmp_path / 'shared'}").returncode == 0
    manifest = tmp_path / "shared" / ".zoo-manifest.json"
    data = json.loads(manifest.read_text())
    data["files"]["../../escape.json"] = {"sha256": "0" * 64, "size": 2}
    manifest.write_text(json.dumps(data))
    result = zoo_on(box, "pull", f"file://{tmp_path / 'shared'}")
    assert result.returncode == 1
    assert (f"{tmp_path / 'shared'}@{data['commit']}: ../../escape.json: remote file name rejected: it has a '..' "
            f"part, which points outside the entry folder.") in flat(result.stderr)
    assert not (box["home"] / "entries" / "shared").exists()


@pytest.mark.parametrize("kind", ["lfs-pointer", "truncated"])
def test_folder_remote_bad_weights(box, tmp_path, kind):
    data, described = _weights_case(kind)
    files = entry_files()
    files["model.safetensors"] = data
    remote = write_entry(tmp_path / "checkout", files)  # e.g. a git clone made without git-lfs
    result = zoo_on(box, "pull", str(remote))
    assert result.returncode == 1
    assert f"error: weights file {remote / 'model.safetensors'} {described}" in flat(result.stderr)
    assert not (box["home"] / "entries" / "checkout").exists()

