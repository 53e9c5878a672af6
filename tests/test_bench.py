"""zoo bench on trained entries: the comparison table, JSON, the card section, unavailable variants
and bad options. Speed itself is measured in benchmarks/, never asserted here."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from inference_testing import tiny_zoo
from zoo_registry import read_card, zoo_fields
from zoo_testing import run_zoo

QUICK = ("--repeats", "2", "--warmup", "1")


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    return tiny_zoo(tmp_path_factory)


def bench_json(zoo, *args, env=None):
    result = run_zoo("bench", *args, *QUICK, "--json", cwd=zoo.project, env={**zoo.env, **(env or {})})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_bench_gpt_prints_table(zoo):
    result = zoo.zoo("bench", "tiny-gpt", "--variants", "int8,eager", "--batch-size", "4", "--prompt-tokens", "8",
                     "--new-tokens", "4", *QUICK)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("tiny-gpt@v1 on cpu (CPU ")
    assert "generation: 8-token prompts, 4 new tokens, greedy" in " ".join(result.stdout.split())
    header = next(line for line in lines if "eager" in line)
    assert header.split() == ["┃", "int8", "┃", "eager"]
    labels = [line.split("│")[0].strip() for line in lines if "│" in line]
    assert labels == ["forward latency, batch 1 (ms)", "forward latency, batch 4 (ms)",
                      "forward throughput (tokens/s)", "prefill, batch 1 (tokens/s)", "decode, batch 1 (tokens/s)",
                      "prefill, batch 4 (tokens/s)", "decode, batch 4 (tokens/s)", "peak memory (MB)",
                      "weights in memory (MB)", "weights (count)", "status"]
    status = next(line for line in lines if line.startswith("status"))
    assert [cell.strip() for cell in status.split("│")[1:]] == ["ok", "ok"]
    assert "unavailable" not in result.stdout


def test_bench_gpt_json(zoo):
    report = bench_json(zoo, "tiny-gpt", "--variants", "eager,bf16,int8")
    assert report["entry"] == "tiny-gpt@v1"
    assert report["language_model"] is True
    assert report["unit"] == "tokens"
    assert (report["prompt_tokens"], report["new_tokens"]) == (16, 16)
    assert report["threads"] == torch.get_num_threads()
    assert report["file_bytes"] == (zoo.entry("tiny-gpt") / "model.safetensors").stat().st_size
    assert list(report["variants"]) == ["eager", "bf16", "int8"]

    eager, bf16, int8 = (report["variants"][name] for name in ("eager", "bf16", "int8"))
    assert sorted(eager["metrics"]) == sorted([
        "latency_batch_1_ms", "latency_batch_8_ms", "forward_tokens_per_s", "prefill_batch_1_tokens_per_s",
        "decode_batch_1_tokens_per_s", "prefill_batch_8_tokens_per_s", "decode_batch_8_tokens_per_s"])
    latency = eager["metrics"]["latency_batch_1_ms"]
    assert latency["n"] == 2
    assert latency["min"] <= latency["p25"] <= latency["median"] <= latency["p75"] <= latency["max"]
    assert latency["min"] > 0

    card = zoo_fields(read_card(zoo.entry("tiny-gpt") / "README.md"))
    assert eager["weights"] == card["parameters"]
    assert int8["weights"] == card["parameters"]
    # Every weight of this GPT is a float32 parameter: bf16 halves them, int8 quantizes the linear layers.
    assert bf16["weights_bytes"] * 2 == eager["weights_bytes"]
    assert int8["weights_bytes"] < eager["weights_bytes"]
    for variant in (eager, bf16, int8):
        assert variant["available"] is True
        assert variant["peak_memory_bytes"] > variant["weights_bytes"]


def test_bench_classifier_json(zoo):
    report = bench_json(zoo, "tiny-cnn", "--variants", "eager,int8", "--batch-size", "16")
    assert report["language_model"] is False
    assert report["unit"] == "images"
    assert report["prompt_tokens"] is None
    metrics = report["variants"]["eager"]["metrics"]
    assert sorted(metrics) == ["forward_images_per_s", "latency_batch_16_ms", "latency_batch_1_ms"]
    # 16 images per forward: the rate of each run is 16 / its time, so the fastest run has the top rate.
    assert metrics["forward_images_per_s"]["max"] == pytest.approx(
        16 / (metrics["latency_batch_16_ms"]["min"] / 1000), rel=1e-6)


def test_bench_writes_card(zoo, tmp_path):
    folder = tmp_path / "tiny-gpt-copy"
    shutil.copytree(zoo.entry("tiny-gpt"), folder)
    for _ in range(2):  # the second run replaces the section instead of adding one
        result = zoo.zoo("bench", str(folder), "--variants", "eager", "--write-card", *QUICK)
        assert result.returncode == 0, result.stderr
        assert f"wrote the table into {folder / 'README.md'}" in " ".join(result.stdout.split())
    text = (folder / "README.md").read_text()
    assert text.count("<!-- zoo:bench:start -->") == 1
    assert text.count("## Inference speed") == 1
    assert (f"Measured with `zoo bench {folder} --device cpu --variants eager --batch-size 8 --repeats 2 "
            f"--warmup 1`") in text
    assert "| forward latency, batch 1 (ms) |" in text
    bench = zoo_fields(read_card(folder / "README.md"))["bench"]
    assert bench["device"] == "cpu"
    assert bench["threads"] == torch.get_num_threads()
    assert sorted(bench["variants"]) == ["eager"]
    assert bench["variants"]["eager"]["latency_batch_1_ms"] > 0
    validated = zoo.zoo("validate", str(folder))
    assert validated.returncode == 0, validated.stderr
    # The card changed but the weights did not: loading still passes the hash check.
    assert zoo.zoo("generate", str(folder), "ROMEO:", "-n", "5").returncode == 0


def test_bench_int8_needs_compress_plugin(zoo):
    env = {"ZOO_DISABLE_PLUGIN_AUTOLOAD": "1", "ZOO_PLUGINS": "zoo,zoo-text"}
    report = bench_json(zoo, "tiny-gpt", "--variants", "eager,int8", env=env)
    assert report["variants"]["int8"] == {
        "available": False, "reason": "needs the zoo-compress plugin: pip install zoo-compress", "metrics": {},
        "peak_memory_bytes": None, "weights_bytes": None, "weights": None}
    assert report["variants"]["eager"]["available"] is True


@pytest.mark.slow
def test_bench_compile_falls_back_without_compiler(zoo):
    # Inductor compiles C++ with $CXX; a compiler that does not exist makes torch.compile fail on
    # first use, exactly as on a machine without one. Caches are off so no earlier build is reused.
    env = {**zoo.env, "CXX": "/nonexistent/g++", "TORCHINDUCTOR_FORCE_DISABLE_CACHES": "1"}
    result = run_zoo("bench", "tiny-cnn", "--variants", "eager,compile", *QUICK, cwd=zoo.project, env=env)
    assert result.returncode == 0, result.stderr
    notices = [line for line in result.stderr.splitlines() if line.startswith("notice:")]
    assert len(notices) == 1
    assert notices[0].startswith("notice: compile: torch.compile failed on this platform, so the variant was "
                                 "skipped (")
    status = next(line for line in result.stdout.splitlines() if line.startswith("status"))
    assert [cell.strip() for cell in status.split("│")[1:]] == ["ok", "unavailable"]


@pytest.mark.slow
def test_bench_compile_runs(zoo):
    report = bench_json(zoo, "tiny-cnn", "--variants", "eager,compile", "--batch-size", "4")
    compiled = report["variants"]["compile"]
    assert compiled["available"] is True, compiled["reason"]
    assert compiled["metrics"]["latency_batch_4_ms"]["n"] == 2


def test_bench_rejects_bad_options(zoo):
    result = zoo.zoo("bench", "tiny-gpt", "--variants", "eager,fp8", "--batch-size", "0", "--repeats", "0")
    assert result.returncode == 1
    assert result.stderr.splitlines()[:4] == [
        "error: 3 problems found:",
        "  command line: --variants: 'eager,fp8' names 'fp8'; use a comma-separated list of eager, bf16, compile, "
        "int8",
        "  command line: --batch-size: 0 is out of range; use a value from 1 to 65536",
        "  command line: --repeats: 0 is out of range; use a value from 1 to 10000",
    ]


def test_bench_rejects_bad_device(zoo):
    result = zoo.zoo("bench", "tiny-gpt", "--device", "tpu")
    assert result.returncode == 1
    assert "error: --device 'tpu' is not a device; use cpu, cuda, cuda:1 or mps" in result.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_bench_rejects_missing_cuda(zoo):
    result = zoo.zoo("bench", "tiny-gpt", "--device", "cuda")
    assert result.returncode == 1
    assert "error: --device cuda: CUDA is not available on this machine; use --device cpu" in result.stderr


def test_bench_rejects_long_prompt(zoo):
    result = zoo.zoo("bench", "tiny-gpt", "--prompt-tokens", "40")
    assert result.returncode == 1
    assert ("error: --prompt-tokens 40 is longer than the 32-token examples of the entry's data; use at most 32"
            in " ".join(result.stderr.split()))


def without_data(zoo, tmp_path):
    """Copy tiny-gpt and point its recipe at a text file that does not exist, as on a machine without the data."""
    import yaml

    folder = tmp_path / "no-data"
    shutil.copytree(zoo.entry("tiny-gpt"), folder)
    recipe = yaml.safe_load((folder / "recipe.yaml").read_text())
    recipe["data"] = {"dataset": "text", "path": str(tmp_path / "missing.txt"), "tokenizer": "char"}
    (folder / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    return folder


def test_bench_random_inputs_without_data(zoo, tmp_path):
    folder = without_data(zoo, tmp_path)
    result = zoo.zoo("bench", str(folder), "--variants", "eager", "--batch-size", "2", *QUICK)
    assert result.returncode == 0, result.stderr
    notice = " ".join(result.stderr.split())
    assert (f"notice: the inputs are random because the entry's data is not available: {tmp_path / 'missing.txt'} "
            f"does not exist") in notice
    assert "decode, batch 2 (tokens/s)" in result.stdout
