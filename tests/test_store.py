"""The local store: versions, ``zoo rm``, atomic publishing under concurrency and SIGKILL, and the
sha256 checks of weights files. Concurrency and kills run in real subprocesses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from zoo import store
from zoo.weights import check_entry_weights, check_safetensors
from zoo_registry import EntryNotFoundError, WeightsError, store_versions
from hub_testing import card_text, flat, sha256, weights_bytes
from zoo_testing import run_zoo

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
zoo:
  architecture: gpt
  task: text-generation
---

# Tiny store GPT
"""


def _publish(name: str, marker: str) -> Path:
    staged = store.staging_dir(name)
    weights = weights_bytes()
    (staged / "README.md").write_text(card_text(weights).replace("# Shared test entry", f"# {marker}"))
    (staged / "recipe.yaml").write_text(TINY_RECIPE)
    (staged / "model.safetensors").write_bytes(weights)
    return store.publish(name, staged)


def _zoo(env: dict, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    if stdin is None:
        return run_zoo(*args, cwd=env["project"])
    return subprocess.run([sys.executable, "-m", "zoo", *args], input=stdin, capture_output=True, text=True,
                          cwd=env["project"], env={**os.environ, "COLUMNS": "200"}, timeout=300)


def test_versions_listed_and_addressed(zoo_env):
    paths = [_publish("model", f"version {i}") for i in (1, 2, 3)]
    assert [p.name for p in paths] == ["v1", "v2", "v3"]
    assert store_versions("model") == ["v1", "v2", "v3"]

    listed = json.loads(_zoo(zoo_env, "list", "--json").stdout)["entries"]
    assert [(e["name"], e["path"]) for e in listed if e["source"] == "store"] == [("model@v3", str(paths[2]))]
    versions = json.loads(_zoo(zoo_env, "info", "model", "--versions", "--json").stdout)
    assert versions == {"name": "model", "versions": ["v1", "v2", "v3"]}
    second = json.loads(_zoo(zoo_env, "info", "model@v2", "--json").stdout)
    assert second["path"] == str(paths[1])
    assert "version 2" not in (paths[2] / "README.md").read_text()


def test_rm_one_version_asks_first(zoo_env):
    for i in (1, 2, 3):
        _publish("model", f"version {i}")
    folder = zoo_env["home"] / "entries" / "model"

    declined = _zoo(zoo_env, "rm", "model@v3", stdin="n\n")
    assert declined.returncode == 1
    assert f"Remove model@v3 from the store ({folder})? [y/N]:" in declined.stdout
    assert "aborted" in declined.stderr
    no_answer = _zoo(zoo_env, "rm", "model@v3", stdin="")
    assert no_answer.returncode == 1
    assert store_versions("model") == ["v1", "v2", "v3"]

    accepted = _zoo(zoo_env, "rm", "model@v3", stdin="y\n")
    assert accepted.returncode == 0, accepted.stderr
    assert "removed model@v3" in accepted.stdout
    assert store_versions("model") == ["v1", "v2"]
    assert sorted(p.name for p in folder.iterdir()) == [".removed-v3", "v1", "v2"]
    assert _publish("model", "after removal").name == "v4"


def test_rm_all_versions_with_yes(zoo_env):
    for i in (1, 2):
        _publish("model", f"version {i}")
    result = _zoo(zoo_env, "rm", "model", "--yes")
    assert result.returncode == 0, result.stderr
    assert "removed model@v1, model@v2" in result.stdout
    assert store_versions("model") == []
    listed = json.loads(_zoo(zoo_env, "list", "--json").stdout)["entries"]
    assert [e for e in listed if e["source"] == "store"] == []
    assert _publish("model", "again").name == "v3"


def test_rm_errors(zoo_env):
    _publish("model", "only")
    folder = zoo_env["home"] / "entries" / "model"
    unknown = _zoo(zoo_env, "rm", "model@v7", "--yes")
    assert unknown.returncode == 1
    assert (f"error: entry 'model' has no store version 'v7'; versions in {folder}: v1") in flat(unknown.stderr)

    card = zoo_env["project"] / "cards" / "draft"
    card.mkdir(parents=True)
    (card / "README.md").write_text(TINY_CARD)
    project_only = _zoo(zoo_env, "rm", "draft", "--yes")
    assert project_only.returncode == 1
    assert (f"error: entry 'draft' has no versions in the store ({zoo_env['home'] / 'entries' / 'draft'}); 'zoo rm' "
            f"removes only trained or pulled versions. Run 'zoo list' to see the entries.") in flat(project_only.stderr)
    assert card.is_dir()
    with pytest.raises(EntryNotFoundError):
        store.remove("nothing")

    outside = _zoo(zoo_env, "rm", "../entries/model", "--yes")
    assert outside.returncode == 1
    assert ("error: 1 problem found: command line: entry: '../entries/model' is not a store entry name; pass the "
            "name that 'zoo list' shows, e.g. char-gpt or char-gpt@v2") in flat(outside.stderr)
    assert store_versions("model") == ["v1"]


PUBLISHER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from zoo import store

    name, worker, rounds, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    staged = [store.staging_dir(name) for _ in range(rounds)]
    for index, folder in enumerate(staged):
        (folder / "README.md").write_text(f"{worker}-{index}")
        (folder / "model.safetensors").write_bytes(bytes(100_000))
    while not go.exists():
        time.sleep(0.001)
    for folder in staged:
        print(store.publish(name, folder).name, flush=True)
""")


def test_concurrent_publish_gives_distinct_complete_versions(zoo_env, tmp_path):
    go = tmp_path / "go"
    workers, rounds = 4, 5
    processes = [subprocess.Popen([sys.executable, "-c", PUBLISHER, "model", f"w{w}", str(rounds), str(go)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for w in range(workers)]
    time.sleep(1.0)
    go.touch()
    outputs = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0] * workers, [err for _, err in outputs]

    published = [line for out, _ in outputs for line in out.split()]
    expected = [f"v{i}" for i in range(1, workers * rounds + 1)]
    assert sorted(published, key=lambda v: int(v[1:])) == expected
    assert store_versions("model") == expected
    folder = zoo_env["home"] / "entries" / "model"
    contents = sorted((folder / v / "README.md").read_text() for v in expected)
    assert contents == sorted(f"w{w}-{i}" for w in range(workers) for i in range(rounds))
    assert all((folder / v / "model.safetensors").stat().st_size == 100_000 for v in expected)
    assert sorted(p.name for p in folder.iterdir()) == sorted(expected)


KILLED = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from zoo import store

    staged = store.staging_dir("model")
    (staged / "README.md").write_text("half")
    with open(staged / "model.safetensors", "wb") as handle:
        handle.write(bytes(50_000))
        handle.flush()
        Path(sys.argv[1]).touch()
        time.sleep(60)
    store.publish("model", staged)
""")


def test_killed_publish_leaves_no_visible_version(zoo_env, tmp_path):
    ready = tmp_path / "ready"
    process = subprocess.Popen([sys.executable, "-c", KILLED, str(ready)])
    deadline = time.monotonic() + 60
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert ready.exists()

    assert store_versions("model") == []
    folder = zoo_env["home"] / "entries" / "model"
    assert [p.name.startswith(".tmp-") for p in folder.iterdir()] == [True]
    listed = json.loads(_zoo(zoo_env, "list", "--json").stdout)["entries"]
    assert [e for e in listed if e["source"] == "store"] == []
    missing = _zoo(zoo_env, "info", "model@v1")
    assert missing.returncode == 1
    assert f"error: entry 'model' has no store version 'v1'; versions in {folder}: none" in flat(missing.stderr)
    assert _publish("model", "after the kill").name == "v1"


@pytest.fixture
def tiny_card(zoo_env):
    if not os.environ.get("ZOO_DATA"):
        pytest.fail("ZOO_DATA must point at the folder with tinyshakespeare.txt (./dev sets it)")
    folder = zoo_env["project"] / "cards" / "tiny-store"
    folder.mkdir(parents=True)
    (folder / "README.md").write_text(TINY_CARD)
    (folder / "recipe.yaml").write_text(TINY_RECIPE)
    return zoo_env


def test_two_trainings_publish_at_once(tiny_card):
    env = {**os.environ, "COLUMNS": "200"}
    command = [sys.executable, "-m", "zoo", "train", "tiny-store"]
    runs = [subprocess.Popen(command + [f"train.seed={seed}"], cwd=tiny_card["project"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for seed in (1, 2)]
    results = [run.communicate(timeout=600) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err[-2000:] for _, err in results]
    assert store_versions("tiny-store") == ["v1", "v2"]
    folder = tiny_card["home"] / "entries" / "tiny-store"
    seeds = sorted("seed: 1" in (folder / v / "recipe.yaml").read_text() for v in ("v1", "v2"))
    assert seeds == [False, True]
    for version in ("v1", "v2"):
        files = sorted(p.name for p in (folder / version).iterdir())
        assert files == ["README.md", "char_vocab.json", "config.json", "loss_curve.png", "metrics.jsonl",
                         "model.safetensors", "recipe.yaml"]
        check_entry_weights(folder / version, {"model.safetensors": _card_hash(folder / version)})


def _card_hash(folder: Path) -> str:
    text = (folder / "README.md").read_text()
    return text.split("model.safetensors: ", 1)[1].split()[0]


def test_killed_training_leaves_no_visible_version(tiny_card):
    folder = tiny_card["home"] / "entries" / "tiny-store"
    env = {**os.environ, "COLUMNS": "200"}
    process = subprocess.Popen([sys.executable, "-m", "zoo", "train", "tiny-store"], cwd=tiny_card["project"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while process.poll() is None and time.monotonic() < deadline:
        if folder.is_dir() and any(p.name.startswith(".tmp-") for p in folder.iterdir()):
            break
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed while publishing"

    assert store_versions("tiny-store") == []
    listed = json.loads(_zoo(tiny_card, "list", "--json").stdout)["entries"]
    assert [e["source"] for e in listed if e["name"].startswith("tiny-store")] == ["project"]
    assert _publish("tiny-store", "after the kill").name == "v1"


# Weights files and their sha256 in the card.

def test_entry_weights_checked_against_card(tmp_path):
    weights = weights_bytes()
    (tmp_path / "model.safetensors").write_bytes(weights)
    check_entry_weights(tmp_path, {"model.safetensors": sha256(weights)})

    with pytest.raises(WeightsError) as unlisted:
        check_entry_weights(tmp_path, {})
    assert str(unlisted.value) == (
        f"weights file {tmp_path / 'model.safetensors'} has no sha256 in the card (zoo.weights), so it cannot be "
        f"verified; add 'model.safetensors: <sha256>' under zoo.weights in {tmp_path / 'README.md'} or remove the file")

    with pytest.raises(WeightsError) as mismatch:
        check_entry_weights(tmp_path, {"model.safetensors": "0" * 64})
    assert str(mismatch.value) == (
        f"weights file {tmp_path / 'model.safetensors'} failed its integrity check: expected sha256 {'0' * 64}, "
        f"got {sha256(weights)}. The file was changed or corrupted; pull or train the entry again")

    with pytest.raises(WeightsError) as missing:
        check_entry_weights(tmp_path, {"model.safetensors": sha256(weights), "head.safetensors": "1" * 64})
    assert str(missing.value) == (
        f"weights file {tmp_path / 'head.safetensors'} is listed in the card (zoo.weights) but missing; copy or "
        f"download it again, or remove 'head.safetensors' from zoo.weights")


@pytest.mark.parametrize("header", [b"[1, 2]", b'{"w": {"dtype": "F32", "shape": [1]}}',
                                    b'{"w": {"data_offsets": "0-4"}}'])
def test_safetensors_header_that_is_not_tensors(tmp_path, header):
    path = tmp_path / "model.safetensors"
    path.write_bytes(len(header).to_bytes(8, "little") + header + bytes(8))
    with pytest.raises(WeightsError) as error:
        check_safetensors(path)
    assert str(error.value) == (
        f"weights file {path} is not safetensors: its JSON header does not describe tensors (each needs 'dtype', "
        f"'shape' and 'data_offsets'); write it with safetensors' save_file")
