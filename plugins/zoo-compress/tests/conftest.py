"""Fixtures of the zoo-compress tests: a store with tiny base entries trained by the real runner.

The base entries train for a few steps on the real Tiny Shakespeare text and
scikit-learn's bundled digits; the tests need real weights and real files, not
good models. They are trained once per test session into a temporary store.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from zoo_registry import get_registry, resolve_entry

CARD = """---
library_name: zoo
pipeline_tag: {task}
license: mit
zoo:
  architecture: {architecture}
  task: {task}
---

# {name}

A tiny entry trained by the zoo-compress tests.
"""

TEXT_DATA = """\
data:
  dataset: tiny-shakespeare
  tokenizer: {tokenizer}
  val_fraction: 0.02
"""

TRAIN = """\
train:
  trainer: {trainer}
  max_steps: 3
  batch_size: 8
  warmup_steps: 1
  eval_interval: 3
  eval_batches: 1
  checkpoint_interval: 0
  log_interval: 1
"""

RECIPES = {
    "tiny-gpt": ("gpt", "text-generation", "model:\n  architecture: gpt\n  n_layer: 2\n  n_head: 2\n  d_model: 32\n"
                 "  block_size: 16\n" + TEXT_DATA.format(tokenizer="char") + TRAIN.format(trainer="causal-lm")),
    "tiny-gpt-bytes": ("gpt", "text-generation", "model:\n  architecture: gpt\n  n_layer: 1\n  n_head: 2\n"
                       "  d_model: 16\n  block_size: 16\n" + TEXT_DATA.format(tokenizer="byte")
                       + TRAIN.format(trainer="causal-lm")),
    "tiny-lstm": ("lstm", "text-generation", "model:\n  architecture: lstm\n  n_layer: 2\n  d_model: 24\n"
                  "  block_size: 16\n" + TEXT_DATA.format(tokenizer="char") + TRAIN.format(trainer="causal-lm")),
    "tiny-gru": ("gru", "text-generation", "model:\n  architecture: gru\n  n_layer: 1\n  d_model: 24\n"
                 "  block_size: 16\n" + TEXT_DATA.format(tokenizer="char") + TRAIN.format(trainer="causal-lm")),
    "tiny-cnn": ("cnn", "image-classification", "model:\n  architecture: cnn\n  channels: [8, 16]\n"
                 "  kernel_sizes: [3, 3]\n  hidden_size: 16\ndata:\n  dataset: digits\n"
                 + TRAIN.format(trainer="image-classification")),
}

# Read once at import: tests must not depend on the caller's store.
_ZOO_DATA = os.environ.get("ZOO_DATA")


@pytest.fixture(scope="session")
def trained_store(tmp_path_factory) -> dict[str, Path]:
    """Train every tiny base entry once into a session store; return its folders."""
    if not _ZOO_DATA or not (Path(_ZOO_DATA) / "tinyshakespeare.txt").is_file():
        pytest.fail("these tests need the real tinyshakespeare.txt in ZOO_DATA (./dev sets it)")
    root = tmp_path_factory.mktemp("compress-store")
    home, project = root / "home", root / "project"
    for name, (architecture, task, recipe) in RECIPES.items():
        folder = project / "cards" / name
        folder.mkdir(parents=True)
        (folder / "README.md").write_text(CARD.format(name=name, architecture=architecture, task=task))
        (folder / "recipe.yaml").write_text(recipe)

    from zoo.runner import train_entry

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZOO_HOME", str(home))
        patch.setenv("ZOO_OFFLINE", "1")
        patch.chdir(project)
        registry = get_registry(refresh=True)
        for name in RECIPES:
            train_entry(resolve_entry(registry, name), [])
    get_registry(refresh=True)
    return {"home": home, "project": project}


@pytest.fixture
def store(trained_store, monkeypatch) -> dict[str, Path]:
    """Run a test inside the session store: its ZOO_HOME and its project folder with the tiny cards."""
    monkeypatch.setenv("ZOO_HOME", str(trained_store["home"]))
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    monkeypatch.chdir(trained_store["project"])
    get_registry(refresh=True)
    yield trained_store
    get_registry(refresh=True)
