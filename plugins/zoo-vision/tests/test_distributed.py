"""A digits entry trained by two CPU processes through ``accelerate launch``, then checked in one process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CARD = """---
library_name: zoo
pipeline_tag: image-classification
zoo:
  architecture: cnn
  task: image-classification
---

# tiny-digits
"""
RECIPE = """\
model: {architecture: cnn, channels: [8, 16], kernel_sizes: [3, 3]}
data: {dataset: digits, random_shift: 1}
train: {trainer: image-classification, max_steps: 30, batch_size: 32, lr: 3e-3, warmup_steps: 5, eval_interval: 15,
        checkpoint_interval: 0}
"""


def _zoo(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "zoo", *args], cwd=project, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "COLUMNS": "200"})


@pytest.mark.slow
def test_two_process_launch_digits(tmp_path, monkeypatch):
    project = tmp_path / "project"
    (project / "cards" / "tiny-digits").mkdir(parents=True)
    (project / "cards" / "tiny-digits" / "README.md").write_text(CARD)
    (project / "cards" / "tiny-digits" / "recipe.yaml").write_text(RECIPE)
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "home"))
    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    run_dir = project / "run-ddp"

    launched = subprocess.run(
        [accelerate, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision",
         "no", "--dynamo_backend", "no", "--main_process_port", "29531", "-m", "zoo", "train", "tiny-digits",
         "--output", str(run_dir)],
        cwd=project, capture_output=True, text=True, timeout=600, env={**os.environ, "COLUMNS": "200"})
    assert launched.returncode == 0, launched.stderr[-3000:]
    assert "(2 process(es))" in launched.stderr
    records = [json.loads((run_dir / "processes" / f"rank-{rank}.json").read_text()) for rank in (0, 1)]
    assert [r["world_size"] for r in records] == [2, 2]
    assert not set(records[0]["first_batch_indices"]) & set(records[1]["first_batch_indices"])

    # One process recomputes every metric, confusion-matrix sums included, and compares with the card.
    entry = tmp_path / "home" / "entries" / "tiny-digits" / "v1"
    assert (entry / "confusion_matrix.png").is_file()
    assert (entry / "preprocessing.json").is_file()
    checked = _zoo(project, "eval", "tiny-digits", "--check")
    assert checked.returncode == 0, checked.stderr
    assert "check passed" in checked.stdout
