"""A small trained zoo shared by the export and bench tests: a char GPT and a digits CNN.

Training through the CLI takes most of a minute on 2 cores, so the entries are
trained once per pytest session into the session's temporary folder and reused
by every test module that asks for them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from zoo_testing import run_zoo

GPT_RECIPE = """\
model: {architecture: gpt, n_layer: 2, n_head: 2, d_model: 32, block_size: 32}
data: {dataset: tiny-shakespeare, tokenizer: char}
train: {trainer: causal-lm, max_steps: 8, batch_size: 8, warmup_steps: 2, eval_interval: 8, eval_batches: 2}
"""

CNN_RECIPE = """\
model: {architecture: cnn, channels: [8, 16], kernel_sizes: [3, 3]}
data: {dataset: digits}
train: {trainer: image-classification, max_steps: 20, batch_size: 32, warmup_steps: 2, eval_interval: 20}
"""

CARD = """---
library_name: zoo
pipeline_tag: {task}
license: mit
zoo:
  architecture: {architecture}
  task: {task}
---

# {name}

A tiny entry trained by the inference tests.
"""

ENTRIES = {
    "tiny-gpt": (GPT_RECIPE, "gpt", "text-generation"),
    "tiny-cnn": (CNN_RECIPE, "cnn", "image-classification"),
}


@dataclass
class TinyZoo:
    """A project folder with the cards and a store with one trained version of each."""

    project: Path
    home: Path

    @property
    def env(self) -> dict[str, str]:
        return {"ZOO_HOME": str(self.home), "ZOO_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}

    def entry(self, name: str) -> Path:
        return self.home / "entries" / name / "v1"

    def zoo(self, *args: str, cwd: Path | None = None):
        return run_zoo(*args, cwd=cwd or self.project, env=self.env)


def tiny_zoo(tmp_path_factory: pytest.TempPathFactory) -> TinyZoo:
    """Return the session's tiny zoo, training its entries on first use."""
    if not os.environ.get("ZOO_DATA"):
        pytest.fail("ZOO_DATA must point at the folder with tinyshakespeare.txt (./dev sets it)")
    root = tmp_path_factory.getbasetemp() / "inference-zoo"
    zoo = TinyZoo(project=root / "project", home=root / "home")
    for name, (recipe, architecture, task) in ENTRIES.items():
        if (zoo.entry(name) / "model.safetensors").is_file():
            continue
        folder = zoo.project / "cards" / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "recipe.yaml").write_text(recipe)
        (folder / "README.md").write_text(CARD.format(name=name, architecture=architecture, task=task))
        trained = zoo.zoo("train", name)
        assert trained.returncode == 0, trained.stderr
    return zoo
