"""The runner end to end on real data: train, publish, eval, generate, exact resume after SIGKILL,
and a two-process gloo launch through accelerate."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from zoo_testing import run_zoo

RECIPE = """\
model:
  architecture: gpt
  n_layer: 2
  n_head: 2
  d_model: 32
  block_size: 32
  dropout: 0.1
data:
  dataset: tiny-shakespeare
  tokenizer: char
train:
  trainer: causal-lm
  max_steps: {steps}
  batch_size: 8
  warmup_steps: 5
  eval_interval: 10
  eval_batches: 2
  final_eval_batches: 10
  checkpoint_interval: {checkpoint}
  log_interval: 5
"""

CARD = """---
library_name: zoo
pipeline_tag: text-generation
license: mit
datasets: [tiny-shakespeare]
zoo:
  architecture: gpt
  task: text-generation
---

# Tiny test GPT

A two-layer character GPT used by the runner tests.
"""


@pytest.fixture
def tiny_entry(zoo_env):
    if not os.environ.get("ZOO_DATA"):
        pytest.fail("ZOO_DATA must point at the folder with tinyshakespeare.txt (./dev sets it)")
    folder = zoo_env["project"] / "cards" / "tiny-gpt"
    folder.mkdir(parents=True)
    (folder / "README.md").write_text(CARD)
    (folder / "recipe.yaml").write_text(RECIPE.format(steps=20, checkpoint=10))
    return zoo_env


def zoo(env, *args, **kwargs):
    return run_zoo(*args, cwd=env["project"], **kwargs)


def test_train_publishes_complete_entry(tiny_entry):
    result = zoo(tiny_entry, "train", "tiny-gpt", "train.max_steps=12")
    assert result.returncode == 0, result.stderr
    version = tiny_entry["home"] / "entries" / "tiny-gpt" / "v1"
    assert sorted(p.name for p in version.iterdir()) == [
        "README.md", "char_vocab.json", "config.json", "loss_curve.png", "metrics.jsonl", "model.safetensors",
        "recipe.yaml"]
    card = (version / "README.md").read_text()
    assert "val_loss" in card
    assert "![Loss curve](loss_curve.png)" in card
    assert "max_steps: 12" in (version / "recipe.yaml").read_text()
    config = json.loads((version / "config.json").read_text())
    assert config["architecture"] == "gpt"
    assert config["info"]["vocab_size"] == 65
    assert (version / "loss_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    evaluated = zoo(tiny_entry, "eval", "tiny-gpt", "--check", "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    metrics = json.loads(evaluated.stdout)["metrics"]
    assert set(metrics) == {"val_loss", "val_perplexity", "val_bpc"}
    assert 2.0 < metrics["val_loss"] < 4.5

    first = zoo(tiny_entry, "generate", "tiny-gpt", "ROMEO:", "-n", "40", "--seed", "3")
    second = zoo(tiny_entry, "generate", "tiny-gpt", "ROMEO:", "-n", "40", "--seed", "3")
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    assert first.stdout.startswith("ROMEO:")
    assert len(first.stdout) == len("ROMEO:") + 40 + 1
    empty = zoo(tiny_entry, "generate", "tiny-gpt", "", "-n", "10", "--temperature", "0")
    assert empty.returncode == 0, empty.stderr
    assert len(empty.stdout) == 10 + 1
    long_prompt = zoo(tiny_entry, "generate", "tiny-gpt", "a" * 50, "-n", "5", "--temperature", "0")
    assert long_prompt.returncode == 0, long_prompt.stderr
    assert "the prompt has 50 tokens; keeping its last 32 (the model's context)" in long_prompt.stderr


def test_eval_check_fails_when_card_differs(tiny_entry):
    assert zoo(tiny_entry, "train", "tiny-gpt", "train.max_steps=5").returncode == 0
    card_path = tiny_entry["home"] / "entries" / "tiny-gpt" / "v1" / "README.md"
    text = card_path.read_text()
    recorded = json.loads(zoo(tiny_entry, "eval", "tiny-gpt", "--json").stdout)["metrics"]["val_loss"]
    card_path.write_text(text.replace(f"val_loss: {round(recorded, 6)}", "val_loss: 1.0"))
    checked = zoo(tiny_entry, "eval", "tiny-gpt", "--check")
    assert checked.returncode == 1
    assert f"error: metrics differ from the card: val_loss: recorded 1.0, got {recorded:.6f} (tolerance 1.00%)" \
        in " ".join(checked.stderr.split())


@pytest.mark.parametrize("args, message", [
    (["--temperature", "-1"], "--temperature: -1.0 is out of range; use 0 (greedy) up to 100"),
    (["--top-k", "0"], "--top-k: 0 is out of range; use 1 or more"),
    (["--top-p", "1.5"], "--top-p: 1.5 is out of range; use a value in (0, 1]"),
    (["-n", "0"], "--max-new-tokens: 0 is out of range; use a value from 1 to 1000000"),
])
def test_generate_rejects_bad_settings(tiny_entry, args, message):
    result = zoo(tiny_entry, "generate", "tiny-gpt", "hi", *args)
    assert result.returncode == 1
    assert f"command line: {message}" in result.stderr


def test_generate_without_weights(tiny_entry):
    result = zoo(tiny_entry, "generate", "tiny-gpt", "hi")
    assert result.returncode == 1
    folder = tiny_entry["project"] / "cards" / "tiny-gpt"
    assert (f"error: entry 'tiny-gpt' ({folder}) has no weights (model.safetensors); train it with 'zoo train "
            f"tiny-gpt' or download it with 'zoo pull <namespace/repo>'") in " ".join(result.stderr.split())


def test_weights_hash_mismatch_is_refused(tiny_entry):
    assert zoo(tiny_entry, "train", "tiny-gpt", "train.max_steps=3").returncode == 0
    weights = tiny_entry["home"] / "entries" / "tiny-gpt" / "v1" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    result = zoo(tiny_entry, "eval", "tiny-gpt")
    assert result.returncode == 1
    assert f"weights file {weights} failed its integrity check: expected sha256" in " ".join(result.stderr.split())


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "model.safetensors"))


def test_resume_after_sigkill_is_bit_exact(tiny_entry):
    recipe = tiny_entry["project"] / "cards" / "tiny-gpt" / "recipe.yaml"
    recipe.write_text(RECIPE.format(steps=400, checkpoint=20))
    reference = zoo(tiny_entry, "train", "tiny-gpt", "--output", str(tiny_entry["project"] / "run-reference"))
    assert reference.returncode == 0, reference.stderr

    run_dir = tiny_entry["project"] / "run-killed"
    env = dict(os.environ, COLUMNS="200")
    process = subprocess.Popen([sys.executable, "-m", "zoo", "train", "tiny-gpt", "--output", str(run_dir)],
                               cwd=tiny_entry["project"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    state = run_dir / "checkpoint" / "state.json"
    deadline = time.monotonic() + 300
    while not state.is_file() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    killed_at = json.loads(state.read_text())["step"]
    assert 20 <= killed_at < 400

    resumed = zoo(tiny_entry, "train", "tiny-gpt", "--resume", "--output", str(run_dir))
    assert resumed.returncode == 0, resumed.stderr
    assert f"resumed from {run_dir / 'checkpoint'} at step {killed_at}" in resumed.stderr
    versions = tiny_entry["home"] / "entries" / "tiny-gpt"
    expected, actual = _weights(versions / "v1"), _weights(versions / "v2")
    assert expected.keys() == actual.keys()
    for name in expected:
        assert torch.equal(expected[name], actual[name]), name


def test_resume_errors(tiny_entry):
    nothing = zoo(tiny_entry, "train", "tiny-gpt", "--resume")
    assert nothing.returncode == 1
    assert "--resume found no run of 'tiny-gpt' with a checkpoint" in nothing.stderr
    overrides = zoo(tiny_entry, "train", "tiny-gpt", "--resume", "train.lr=0.1")
    assert overrides.returncode == 1
    assert "overrides cannot change a run that is resumed" in overrides.stderr


@pytest.mark.slow
def test_two_process_launch(tiny_entry):
    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    run_dir = tiny_entry["project"] / "run-ddp"
    # One thread per process: two processes with two threads each on a 2-core machine spin-wait.
    env = dict(os.environ, COLUMNS="200", OMP_NUM_THREADS="1")
    result = subprocess.run(
        [accelerate, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
         "--dynamo_backend", "no", "--main_process_port", "29517", "-m", "zoo", "train", "tiny-gpt",
         "--output", str(run_dir)],
        cwd=tiny_entry["project"], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "(2 process(es))" in result.stderr
    records = [json.loads((run_dir / "processes" / f"rank-{r}.json").read_text()) for r in (0, 1)]
    assert [r["world_size"] for r in records] == [2, 2]
    assert records[0]["indices_sha256"] != records[1]["indices_sha256"]
    assert not set(records[0]["first_batch_indices"]) & set(records[1]["first_batch_indices"])
    versions = sorted((tiny_entry["home"] / "entries" / "tiny-gpt").iterdir())
    assert [v.name for v in versions] == ["v1"]
    evaluated = zoo(tiny_entry, "eval", "tiny-gpt", "--check")
    assert evaluated.returncode == 0, evaluated.stderr


def test_tensorboard_tracker_writes_events(tiny_entry):
    pytest.importorskip("tensorboard")
    run_dir = tiny_entry["project"] / "run-tb"
    result = zoo(tiny_entry, "train", "tiny-gpt", "train.max_steps=10", "train.trackers=[tensorboard]",
                 "--output", str(run_dir))
    assert result.returncode == 0, result.stderr
    events = list(run_dir.rglob("events.out.tfevents.*"))
    assert events, f"no TensorBoard event file under {run_dir}"


def test_unknown_tracker_warns_and_trains(tiny_entry):
    result = zoo(tiny_entry, "train", "tiny-gpt", "train.max_steps=3", "train.trackers=[not-a-tracker]")
    assert result.returncode == 0, result.stderr
    assert "tracker 'not-a-tracker' is not installed; metrics go to metrics.jsonl only" in result.stderr


def test_progress_bar_on_terminal(tiny_entry):
    import pty

    controller, terminal = pty.openpty()
    env = dict(os.environ, COLUMNS="120", TERM="xterm")
    process = subprocess.Popen([sys.executable, "-m", "zoo", "train", "tiny-gpt", "train.max_steps=5"],
                               cwd=tiny_entry["project"], env=env, stdin=terminal, stdout=terminal, stderr=terminal)
    os.close(terminal)
    output = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the terminal closes when the process exits
            break
        if not chunk:
            break
        output += chunk
    process.wait(timeout=600)
    os.close(controller)
    text = output.decode(errors="replace")
    assert process.returncode == 0, text[-2000:]
    assert "━" in text
    assert "5/5" in text
    assert "tokens/s" in text
    assert "step 5/5" not in text  # plain log lines are only for non-terminals


def _generate_json(env, *args, **kwargs) -> list[dict]:
    result = zoo(env, "generate", "tiny-gpt", *args, "--json", **kwargs)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["outputs"]


def test_generate_batch_stop_and_stream(tiny_entry):
    assert zoo(tiny_entry, "train", "tiny-gpt", "train.max_steps=12").returncode == 0

    streamed = zoo(tiny_entry, "generate", "tiny-gpt", "ROMEO:", "-n", "25", "--seed", "3")
    printed = zoo(tiny_entry, "generate", "tiny-gpt", "ROMEO:", "-n", "25", "--seed", "3", "--no-stream")
    assert streamed.returncode == 0, streamed.stderr
    assert streamed.stdout == printed.stdout
    alone = _generate_json(tiny_entry, "ROMEO:", "-n", "25", "--seed", "3")
    assert streamed.stdout == "ROMEO:" + alone[0]["text"] + "\n"

    # Prompt i of a batch samples with seed + i, so ROMEO: (second, seed 2 + 1) matches its run alone.
    batch = _generate_json(tiny_entry, "First Citizen:", "ROMEO:", "", "-n", "25", "--seed", "2")
    assert [row["prompt"] for row in batch] == ["First Citizen:", "ROMEO:", ""]
    assert batch[1]["text"] == alone[0]["text"]
    assert [row["new_tokens"] for row in batch] == [25, 25, 25]

    plain = zoo(tiny_entry, "generate", "tiny-gpt", "First Citizen:", "ROMEO:", "-n", "25", "--seed", "2")
    assert plain.stdout == (f"==> prompt 1 <==\nFirst Citizen:{batch[0]['text']}\n\n"
                            f"==> prompt 2 <==\nROMEO:{batch[1]['text']}\n")

    greedy = _generate_json(tiny_entry, "ROMEO:", "-n", "25", "--temperature", "0")[0]["text"]
    stop = greedy[3]
    stopped = _generate_json(tiny_entry, "ROMEO:", "-n", "25", "--temperature", "0", "--stop", stop)[0]
    assert stopped["text"] == greedy[:greedy.index(stop) + 1]
    assert stopped["stopped"] is True


@pytest.mark.parametrize("args, message", [
    (["a", "b", "--stream"], "--stream: prints one continuation as it is generated, but 2 prompts were given; "
                             "drop --stream or pass one prompt"),
    (["a", "--stream", "--json"], "--stream: cannot be combined with --json, which prints once generation ends; "
                                  "drop one of them"),
    (["a", "--stop", ""], "--stop: is empty; give the text that ends a continuation"),
    (["a", "--stop", "x", "--stop", ""], "--stop (number 2): is empty; give the text that ends a continuation"),
    (["a", "b", "--seed", str(2**64 - 1)], f"--seed: {2**64 - 1} is out of range; use 0 to {2**64 - 2} "
                                           "(prompt i uses seed + i)"),
    (["a", "--seed", "-1"], f"--seed: -1 is out of range; use 0 to {2**64 - 1} (prompt i uses seed + i)"),
])
def test_generate_rejects_bad_batch_options(tiny_entry, args, message):
    result = zoo(tiny_entry, "generate", "tiny-gpt", *args)
    assert result.returncode == 1
    assert f"command line: {message}" in " ".join(result.stderr.split())


def test_generate_checks_texts_against_vocabulary(tiny_entry):
    assert zoo(tiny_entry, "train", "tiny-gpt", "train.max_steps=2").returncode == 0
    result = zoo(tiny_entry, "generate", "tiny-gpt", "ROMEO:", "x\u20acy", "--stop", "\u20ac")
    assert result.returncode == 1
    stderr = " ".join(result.stderr.split())
    assert "command line: prompt 2: 'x\u20acy' cannot be encoded:" in stderr
    assert "command line: --stop: '\u20ac' cannot be encoded:" in stderr

    top_k = zoo(tiny_entry, "generate", "tiny-gpt", "ROMEO:", "--top-k", "66")
    assert top_k.returncode == 1
    assert top_k.stdout == ""
    assert ("command line: --top-k: 66 is out of range; tiny-gpt@v1 has a vocabulary of 65 tokens, so use 1 to 65"
            in " ".join(top_k.stderr.split()))


def test_generate_stops_when_reader_exits(tiny_entry):
    # Like `zoo generate ... | head -c 20`: the reader closes the pipe long before 100000 tokens.
    assert zoo(tiny_entry, "train", "tiny-gpt", "train.max_steps=2").returncode == 0
    process = subprocess.Popen([sys.executable, "-m", "zoo", "generate", "tiny-gpt", "ROMEO:", "-n", "100000"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tiny_entry["project"])
    assert len(process.stdout.read(20)) == 20
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=120) == 0, stderr
    assert "error" not in stderr


@pytest.mark.slow
def test_generate_compile_falls_back_without_compiler(tiny_entry):
    # Inductor compiles C++ with $CXX; a compiler that does not exist makes torch.compile fail on
    # first use, as on a machine without one. Caches are off so no earlier build is reused.
    assert zoo(tiny_entry, "train", "tiny-gpt", "train.max_steps=2").returncode == 0
    args = ["generate", "tiny-gpt", "ROMEO:", "-n", "12", "--temperature", "0"]
    eager = zoo(tiny_entry, *args)
    without_compiler = {"CXX": "/nonexistent/g++", "TORCHINDUCTOR_FORCE_DISABLE_CACHES": "1"}
    compiled = run_zoo(*args, "--compile", cwd=tiny_entry["project"], env=without_compiler)
    assert compiled.returncode == 0, compiled.stderr
    assert compiled.stdout == eager.stdout
    notices = [line for line in compiled.stderr.splitlines() if line.startswith("zoo generate --compile:")]
    assert len(notices) == 1
    assert notices[0].startswith("zoo generate --compile: torch.compile failed on this platform, running without it (")
