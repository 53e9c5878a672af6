"""``zoo push`` and ``zoo pull`` against a Hub: the real huggingface_hub client talks to
``hub_server.HubStandIn``, a stand-in for the Hugging Face Hub on 127.0.0.1 started by these
tests, because no network is available. Each "machine" is its own ZOO_HOME and HF_HOME."""

from __future__ import annotations

import json
import os
import sys
import textwrap

import pytest

from hub_server import HubStandIn, StoredFile
from hub_testing import (TOKEN, entry_files, files_containing, flat, machine, sha256, write_entry, zoo_on)

TINY_RECIPE = """\
model: {architecture: gpt, n_layer: 1, n_head: 2, d_model: 16, block_size: 32, dropout: 0.0}
data: {dataset: tiny-shakespeare, tokenizer: char}
train: {trainer: causal-lm, max_steps: 3, batch_size: 32, warmup_steps: 1, eval_interval: 3, eval_batches: 1,
        checkpoint_interval: 3, log_interval: 1}
"""

TINY_CARD = """---
library_name: zoo
pipeline_tag: text-generation
license: mit
datasets: [tiny-shakespeare]
zoo:
  architecture: gpt
  task: text-generation
---

# Tiny shared GPT

A one-layer character GPT that the sharing tests train, push and pull.
"""


@pytest.fixture
def hub():
    with HubStandIn({TOKEN}) as server:
        yield server


@pytest.fixture
def first(zoo_env, tmp_path, hub):
    """The machine that trains and pushes, with an entry folder ``entry`` ready to push."""
    box = machine(tmp_path, "first", hub.url, HF_TOKEN=TOKEN)
    box["entry"] = write_entry(box["root"] / "entry", entry_files())
    return box


def _json(result) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_round_trip_train_push_pull_eval(zoo_env, tmp_path, hub):
    if not os.environ.get("ZOO_DATA"):
        pytest.fail("ZOO_DATA must point at the folder with tinyshakespeare.txt (./dev sets it)")
    trainer = machine(tmp_path, "trainer", hub.url, HF_TOKEN=TOKEN)
    card = trainer["cwd"] / "cards" / "tiny-share"
    card.mkdir(parents=True)
    (card / "README.md").write_text(TINY_CARD)
    (card / "recipe.yaml").write_text(TINY_RECIPE)
    trained = zoo_on(trainer, "train", "tiny-share")
    assert trained.returncode == 0, trained.stderr
    version = trainer["home"] / "entries" / "tiny-share" / "v1"
    expected = _json(zoo_on(trainer, "eval", "tiny-share", "--json"))["metrics"]

    pushed = _json(zoo_on(trainer, "push", "tiny-share", "team/tiny-share", "--json"))
    head = hub.repos["team/tiny-share"].branches["main"]
    assert pushed["commit"] == head
    assert pushed["url"] == f"{hub.url}/team/tiny-share/commit/{head}"
    local = {p.name: p.read_bytes() for p in version.iterdir() if p.is_file()}
    remote = hub.files("team/tiny-share")
    assert sorted(remote) == sorted([".gitattributes", *local])
    for name, data in local.items():
        assert remote[name].data == data, name
    assert remote["model.safetensors"].lfs

    second = machine(tmp_path, "second", hub.url)
    pulled = _json(zoo_on(second, "pull", "team/tiny-share", "--json"))
    assert pulled["entry"] == "tiny-share@v1"
    assert pulled["commit"] == head
    assert pulled["files"] == {name: sha256(data) for name, data in local.items()}
    assert {p["distribution"]: p["installed"] is not None for p in pulled["plugins"]} == {
        "zoo": True, "zoo-registry": True, "zoo-text": True}
    stored = second["home"] / "entries" / "tiny-share" / "v1"
    record = json.loads((stored / ".zoo-pull.json").read_text())
    assert record["commit"] == head
    assert record["files"] == pulled["files"]
    assert record["source"] == "team/tiny-share"

    evaluated = _json(zoo_on(second, "eval", "tiny-share", "--check", "--json"))
    assert evaluated["entry"] == "tiny-share@v1"
    assert evaluated["metrics"] == expected
    assert evaluated["check_failed"] == []

    # The pulled entry travels on unchanged; its pull record stays on the machine that pulled it.
    forwarded = _json(zoo_on(second, "push", "tiny-share", "other/tiny-share", "--json", HF_TOKEN=TOKEN))
    assert forwarded["files"] == sorted(local)
    assert {name: f.data for name, f in hub.files("other/tiny-share").items() if name != ".gitattributes"} == local


def test_push_creates_repo_and_replaces_files(first, hub):
    (first["entry"] / "notes.txt").write_text("first push\n")
    printed = zoo_on(first, "push", str(first["entry"]), "team/model")
    assert printed.returncode == 0, printed.stderr
    head = hub.repos["team/model"].branches["main"]
    assert printed.stdout.splitlines() == [
        "pushed entry to team/model: 5 files", f"commit {head}", f"{hub.url}/team/model/commit/{head}",
        f"next: zoo pull team/model@{head}"]
    pushed = _json(zoo_on(first, "push", str(first["entry"]), "team/model", "--json"))
    assert pushed["commit"] == head
    assert pushed["files"] == ["README.md", "config.json", "model.safetensors", "notes.txt", "recipe.yaml"]
    assert not hub.repos["team/model"].private
    assert "notes.txt" in hub.files("team/model")

    (first["entry"] / "notes.txt").unlink()
    again = _json(zoo_on(first, "push", str(first["entry"]), "team/model", "--json"))
    assert again["commit"] != pushed["commit"]
    assert sorted(hub.files("team/model")) == [".gitattributes", "README.md", "config.json", "model.safetensors",
                                                 "recipe.yaml"]

    unchanged = _json(zoo_on(first, "push", str(first["entry"]), "team/model", "--json"))
    assert unchanged["commit"] == again["commit"]
    commits = [path for method, path in hub.requests if method == "POST" and path.endswith("/commit/main")]
    assert len(commits) == 2


def test_push_revision_and_pull_it(first, hub, tmp_path):
    main = _json(zoo_on(first, "push", str(first["entry"]), "team/model", "--json"))["commit"]
    write_entry(first["entry"], entry_files(seed=1))
    branch = _json(zoo_on(first, "push", str(first["entry"]), "team/model", "--revision", "experiment", "--json"))
    assert branch["revision"] == "experiment"
    assert hub.repos["team/model"].branches == {"main": main, "experiment": branch["commit"]}

    second = machine(tmp_path, "second", hub.url)
    pulled = _json(zoo_on(second, "pull", "team/model@experiment", "--json"))
    assert pulled["commit"] == branch["commit"]
    assert pulled["files"]["model.safetensors"] == sha256(entry_files(seed=1)["model.safetensors"])
    by_commit = _json(zoo_on(second, "pull", f"team/model@{main}", "--as", "model-main", "--json"))
    assert by_commit["commit"] == main
    assert by_commit["entry"] == "model-main@v1"

    offline = _json(zoo_on(second, "pull", "team/model@experiment", "--as", "model-offline", "--json",
                           HF_HUB_OFFLINE="1"))
    assert offline["commit"] == branch["commit"]


def test_push_private_repo(first, hub, tmp_path):
    pushed = zoo_on(first, "push", str(first["entry"]), "team/secret", "--private")
    assert pushed.returncode == 0, pushed.stderr
    assert hub.repos["team/secret"].private

    anonymous = machine(tmp_path, "anonymous", hub.url)
    rejected = zoo_on(anonymous, "pull", "team/secret")
    assert rejected.returncode == 1
    assert (f"error: repo team/secret was not found on {hub.url}; check the name, and for a private repo log in with "
            f"'hf auth login' or set HF_TOKEN") in flat(rejected.stderr)
    allowed = zoo_on(anonymous, "pull", "team/secret", HF_TOKEN=TOKEN)
    assert allowed.returncode == 0, allowed.stderr

    assert zoo_on(first, "push", str(first["entry"]), "team/open").returncode == 0
    public = zoo_on(first, "push", str(first["entry"]), "team/open", "--private")
    assert public.returncode == 1
    assert ("error: repo team/open already exists and is public, so --private does not apply; make it private on the "
            "Hub first, or push without --private") in flat(public.stderr)


def test_push_without_valid_token(first, hub):
    wrong = "hf_wrongToken0000000000"
    result = zoo_on(first, "push", str(first["entry"]), "team/model", HF_TOKEN=wrong, ZOO_DEBUG="1")
    assert result.returncode == 1
    assert (f"pushing to team/model failed: the Hub at {hub.url} returned HTTP 401") in flat(result.stderr)
    assert "Log in with 'hf auth login' or set HF_TOKEN to a token with write access." in flat(result.stderr)
    assert wrong not in result.stdout + result.stderr
    assert "team/model" not in hub.repos


def test_token_is_used_but_never_printed_or_written(first, hub, tmp_path):
    (first["entry"] / "notes.txt").write_text("no secrets here\n")
    outputs = []
    for args in (["push", str(first["entry"]), "team/model", "--private"],
                 ["push", str(first["entry"]), "team/model", "--private", "--revision", "dev", "--json"]):
        result = zoo_on(first, *args)
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout + result.stderr)

    # The second machine logs in the way 'hf auth login' does: a token file in HF_HOME.
    second = machine(tmp_path, "second", hub.url)
    token_file = second["root"] / "hf-home" / "token"
    token_file.parent.mkdir(parents=True)
    token_file.write_text(TOKEN)
    for args in (["pull", "team/model"], ["pull", "team/model@dev", "--as", "dev", "--json"]):
        result = zoo_on(second, *args)
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout + result.stderr)
    offline = zoo_on(second, "pull", "team/model", "--as", "cached", HF_HUB_OFFLINE="1")
    assert offline.returncode == 0, offline.stderr
    outputs.append(offline.stdout + offline.stderr)

    assert f"Bearer {TOKEN}" in hub.authorizations
    assert [o for o in outputs if TOKEN in o] == []
    assert files_containing(tmp_path, TOKEN.encode(), skip={token_file}) == []


def test_pull_reports_missing_plugins(first, hub, tmp_path):
    files = entry_files(plugins={"zoo-text": "0.1.0", "zoo-not-installed-anywhere": "2.0.1"})
    hub.create_repo("team/needs")
    hub.put_commit("team/needs", files)
    second = machine(tmp_path, "second", hub.url)
    result = zoo_on(second, "pull", "team/needs")
    assert result.returncode == 0, result.stderr
    text = flat(result.stdout)
    assert "zoo-not-installed-anywhere │ 2.0.1 │ no: pip install 'zoo-not-installed-anywhere==2.0.1'" in text
    assert "zoo-text │ 0.1.0 │ 0.1.0" in text
    assert ("install the missing plugins before using the entry: pip install 'zoo-not-installed-anywhere==2.0.1'"
            in text)
    report = _json(zoo_on(second, "pull", "team/needs", "--json"))
    assert report["already_present"]
    assert report["plugins"][0] == {"distribution": "zoo-not-installed-anywhere", "required": "2.0.1",
                                    "installed": None, "install": "pip install 'zoo-not-installed-anywhere==2.0.1'"}


def test_pull_same_commit_twice_is_verified(first, hub, tmp_path):
    files = entry_files()
    hub.create_repo("team/model")
    commit = hub.put_commit("team/model", files)
    second = machine(tmp_path, "second", hub.url)
    assert _json(zoo_on(second, "pull", "team/model", "--json"))["entry"] == "model@v1"
    again = _json(zoo_on(second, "pull", "team/model", "--json"))
    assert again["already_present"]
    assert again["entry"] == "model@v1"
    assert sorted(p.name for p in (second["home"] / "entries" / "model").iterdir()) == ["v1"]

    # The remote now serves other bytes under the same commit id; a fresh cache downloads them.
    changed = entry_files()
    changed["config.json"] = b'{"architecture": "gpt", "info": {"vocab_size": 99}}'
    hub.repos["team/model"].commits[commit] = {
        name: StoredFile(changed.get(name, stored.data), stored.lfs)
        for name, stored in hub.files("team/model").items()}
    fresh_cache = zoo_on(second, "pull", "team/model", HF_HOME=str(tmp_path / "fresh-hf"))
    assert fresh_cache.returncode == 1
    assert (f"error: file config.json of team/model@{commit} differs from the copy pulled before "
            f"as model@v1: expected sha256 {sha256(files['config.json'])} (recorded then), got "
            f"{sha256(changed['config.json'])}.") in flat(fresh_cache.stderr)
    assert sorted(p.name for p in (second["home"] / "entries" / "model").iterdir()) == ["v1"]


def test_pull_new_commit_adds_version(first, hub, tmp_path):
    hub.create_repo("team/model")
    hub.put_commit("team/model", entry_files(seed=0))
    second = machine(tmp_path, "second", hub.url)
    assert _json(zoo_on(second, "pull", "team/model", "--json"))["entry"] == "model@v1"
    hub.put_commit("team/model", entry_files(seed=1))
    assert _json(zoo_on(second, "pull", "team/model", "--json"))["entry"] == "model@v2"
    versions = zoo_on(second, "info", "model", "--versions", "--json")
    assert json.loads(versions.stdout)["versions"] == ["v1", "v2"]


@pytest.mark.parametrize("target, message", [
    ("team/model@", "'team/model@' ends with '@' but names no revision; add a branch, tag or commit after '@'"),
    ("team/model@..", "'..' is not a valid revision; use a branch, tag or commit id without '..' parts, a leading "
                      "'/', backslashes or control characters"),
    ("just-a-name", "'just-a-name' is not a repo id or folder; use namespace/repo for a Hub repo"),
    ("a/b/c", "'a/b/c' is not a repo id or folder; use namespace/repo"),
    ("team/bad--name", "'team/bad--name' is not a valid Hub repo id: Cannot have -- or .. in repo_id"),
    ("https://example.org/x", "'https://example.org/x' has an unsupported scheme;"),
    ("file://host/share/x", "'file://host/share/x' is not a local file URL; write file:///absolute/path/to/folder"),
])
def test_pull_rejects_bad_remote(first, target, message):
    result = zoo_on(first, "pull", target)
    assert result.returncode == 1
    assert f"error: 1 problem found: command line: remote: {message}" in flat(result.stderr)


def test_pull_rejects_bad_store_name(first, hub):
    result = zoo_on(first, "pull", "team/model", "--as", "../escape")
    assert result.returncode == 1
    assert ("--as: '../escape' is not a valid entry name; use letters, digits, '.', '_' and '-', starting with a "
            "letter or digit (at most 96)") in flat(result.stderr)
    assert hub.requests == []


def test_pull_unknown_repo_and_revision(first, hub):
    missing = zoo_on(first, "pull", "team/nothing")
    assert missing.returncode == 1
    assert f"error: repo team/nothing was not found on {hub.url};" in flat(missing.stderr)
    hub.create_repo("team/model")
    hub.put_commit("team/model", entry_files())
    revision = zoo_on(first, "pull", "team/model@nope")
    assert revision.returncode == 1
    assert (f"error: repo team/model on {hub.url} has no such revision; check the branch, tag or commit after '@'"
            in flat(revision.stderr))


def test_pull_unreachable_hub(first):
    with HubStandIn({TOKEN}) as stopped:
        url = stopped.url
    result = zoo_on(first, "pull", "team/model", HF_ENDPOINT=url)
    assert result.returncode == 1
    assert f"error: pulling team/model failed: cannot reach the Hub at {url}" in flat(result.stderr)
    assert "Check the network, or pull from the Hugging Face cache with HF_HUB_OFFLINE=1" in flat(result.stderr)


def test_push_rejects_entries_that_cannot_be_shared(first, hub):
    entry = first["entry"]
    readme = (entry / "README.md").read_text()

    (entry / "README.md").write_text(readme.replace("library_name: zoo\n", "library_name: other\n"))
    invalid = zoo_on(first, "push", str(entry), "team/model")
    assert invalid.returncode == 1
    assert (f"{entry / 'README.md'}: library_name: is 'other'; set it to 'zoo' so the Hub lists the entry under this "
            f"library") in flat(invalid.stderr)
    (entry / "README.md").write_text(readme)

    data = bytearray((entry / "model.safetensors").read_bytes())
    expected = sha256(bytes(data))
    data[-1] ^= 0xFF
    (entry / "model.safetensors").write_bytes(bytes(data))
    corrupt = zoo_on(first, "push", str(entry), "team/model")
    assert corrupt.returncode == 1
    assert (f"error: weights file {entry / 'model.safetensors'} failed its integrity check: expected sha256 "
            f"{expected}, got {sha256(bytes(data))}.") in flat(corrupt.stderr)
    data[-1] ^= 0xFF
    (entry / "model.safetensors").write_bytes(bytes(data))

    (entry / "extra.safetensors").write_bytes((entry / "model.safetensors").read_bytes())
    unlisted = zoo_on(first, "push", str(entry), "team/model")
    assert unlisted.returncode == 1
    assert (f"error: weights file {entry / 'extra.safetensors'} has no sha256 in the card (zoo.weights), so it "
            f"cannot be verified;") in flat(unlisted.stderr)
    (entry / "extra.safetensors").unlink()

    (entry / "optimizer.pt").write_bytes(b"\x80\x04K\x01.")
    pickled = zoo_on(first, "push", str(entry), "team/model")
    assert pickled.returncode == 1
    assert (f"error: entry folder {entry} contains pickle files (optimizer.pt); zoo shares weights only as "
            f"safetensors because loading a pickle can run code. Delete or convert them first") in flat(pickled.stderr)
    (entry / "optimizer.pt").unlink()

    (entry / "recipe.yaml").unlink()
    no_recipe = zoo_on(first, "push", str(entry), "team/model")
    assert no_recipe.returncode == 1
    assert f"{entry / 'recipe.yaml'}: the recipe is missing;" in flat(no_recipe.stderr)
    assert hub.repos == {}


def test_push_offline_is_rejected(first, hub):
    result = zoo_on(first, "push", str(first["entry"]), "team/model", HF_HUB_OFFLINE="1")
    assert result.returncode == 1
    assert ("error: pushing to team/model needs network access, but HF_HUB_OFFLINE=1 is set; unset it, or push to a "
            "folder remote (file:///path)") in flat(result.stderr)
    assert hub.requests == []


# Offline pulls: everything comes from the Hugging Face cache and no socket is created.

NO_SOCKET = textwrap.dedent("""
    import socket, sys

    class NoSocket(socket.socket):
        def __init__(self, *args, **kwargs):
            raise OSError("socket creation is blocked by the test")

    socket.socket = NoSocket
    from zoo.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def _zoo_without_sockets(box: dict, *args: str, **env: str):
    import subprocess

    full_env = {**os.environ, **box["env"], "COLUMNS": "200", **env}
    return subprocess.run([sys.executable, "-c", NO_SOCKET, *args], cwd=box["cwd"], env=full_env,
                          capture_output=True, text=True, timeout=300)


def test_offline_pull_opens_no_socket(first, hub, tmp_path):
    hub.create_repo("team/model")
    commit = hub.put_commit("team/model", entry_files())
    second = machine(tmp_path, "second", hub.url)
    assert zoo_on(second, "pull", "team/model").returncode == 0
    requests = len(hub.requests)

    # The guard works: an online pull fails as soon as it needs a socket.
    online = _zoo_without_sockets(second, "pull", "team/model", "--as", "online")
    assert online.returncode == 1
    assert "socket creation is blocked by the test" in online.stderr

    offline = _zoo_without_sockets(second, "pull", "team/model", "--as", "offline", "--json", HF_HUB_OFFLINE="1")
    assert offline.returncode == 0, offline.stderr
    assert json.loads(offline.stdout)["commit"] == commit
    assert json.loads(offline.stdout)["entry"] == "offline@v1"
    pinned = _zoo_without_sockets(second, "pull", f"team/model@{commit}", "--as", "pinned", HF_HUB_OFFLINE="1")
    assert pinned.returncode == 0, pinned.stderr
    assert len(hub.requests) == requests


def test_offline_pull_lists_what_is_missing(first, hub, tmp_path):
    hub.create_repo("team/model")
    commit = hub.put_commit("team/model", entry_files())
    second = machine(tmp_path, "second", hub.url)
    cache = second["hf_cache"]

    nothing = _zoo_without_sockets(second, "pull", "team/model", HF_HUB_OFFLINE="1")
    assert nothing.returncode == 1
    assert (f"error: cannot pull team/model offline (HF_HUB_OFFLINE=1 is set): the Hugging Face cache {cache} is "
            f"missing the revision 'main' of team/model and all its files. Run 'zoo pull team/model' once with network "
            f"access") in flat(nothing.stderr)

    assert zoo_on(second, "pull", "team/model").returncode == 0
    snapshot = cache / "models--team--model" / "snapshots" / commit
    (snapshot / "config.json").unlink()
    (snapshot / "model.safetensors").unlink()
    partial = _zoo_without_sockets(second, "pull", "team/model", "--as", "partial", HF_HUB_OFFLINE="1")
    assert partial.returncode == 1
    assert (f"the Hugging Face cache {cache} is missing 2 file(s) of commit {commit}: config.json, model.safetensors. "
            f"Run 'zoo pull team/model' once with network access") in flat(partial.stderr)
    assert not (second["home"] / "entries" / "partial").exists()
