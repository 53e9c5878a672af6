"""The plugin's declarations and options: torch-free imports, registry entries and recipe checks."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap

import pytest

from zoo_registry import ValidationError, get_registry, load_object, load_recipe
from zoo_registry._runner_config import RunnerConfig
from zoo_text import _plugin

COMPONENTS = {
    ("architecture", "gpt"), ("architecture", "lstm"), ("architecture", "gru"),
    ("dataset", "tiny-shakespeare"), ("dataset", "text"), ("trainer", "causal-lm"),
}


def test_declarations_import_without_torch():
    code = textwrap.dedent("""
        import sys
        import zoo_text, zoo_text._plugin, zoo_text.options
        specs = zoo_text._plugin.zoo_components()
        for spec in specs:
            zoo_text.options.__dict__[spec.config.partition(":")[2]]
        heavy = sorted(name for name in ("torch", "numpy", "tokenizers") if name in sys.modules)
        print(len(specs), heavy)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "6 []"


def test_components_are_declared():
    specs = _plugin.zoo_components()
    assert {(s.kind, s.name) for s in specs} == COMPONENTS
    for spec in specs:
        assert spec.problems() == []
        assert spec.task == "text-generation"
        assert spec.summary and "\n" not in spec.summary
        assert callable(load_object(spec.target))
        assert dataclasses.is_dataclass(load_object(spec.config))


def test_registry_lists_components():
    registry = get_registry(refresh=True)
    for kind, name in COMPONENTS:
        resolved = registry.resolve(kind, name)
        assert resolved.plugin.distribution == "zoo-text"


def test_options_have_help_and_defaults():
    for spec in _plugin.zoo_components():
        options = load_object(spec.config)
        for field in dataclasses.fields(options):
            assert field.metadata["help"].endswith("."), (spec.name, field.name)


def test_trainer_options_avoid_runner_names():
    runner = {f.name for f in dataclasses.fields(RunnerConfig)}
    for spec in _plugin.zoo_components():
        names = {f.name for f in dataclasses.fields(load_object(spec.config))}
        assert names & runner == set(), spec.name


RECIPE = """\
model:
  architecture: {architecture}
{model}
data:
  dataset: tiny-shakespeare
{data}
train:
  trainer: causal-lm
  max_steps: 10
"""


def write_recipe(tmp_path, architecture="gpt", model="", data=""):
    path = tmp_path / "recipe.yaml"
    path.write_text(RECIPE.format(architecture=architecture, model=model, data=data))
    return path


def test_recipe_options_checked_against_bounds(tmp_path):
    path = write_recipe(tmp_path, model="  n_layer: 0\n  dropout: 1.0", data="  tokenizer: word\n  val_fraction: 0")
    with pytest.raises(ValidationError) as caught:
        load_recipe(path, get_registry(refresh=True))
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:3: model.n_layer: 0 is out of range; it must be >= 1",
        f"{path}:4: model.dropout: 1.0 is out of range; it must be < 1",
        f"{path}:7: data.tokenizer: 'word' is not allowed; use one of 'char', 'byte', 'bpe'.",
        f"{path}:8: data.val_fraction: 0.0 is out of range; it must be > 0",
    ]


def test_recipe_rnn_tied_sizes(tmp_path):
    path = write_recipe(tmp_path, architecture="lstm", model="  d_model: 64\n  d_embed: 32")
    with pytest.raises(ValidationError) as caught:
        load_recipe(path, get_registry(refresh=True))
    assert str(caught.value.problems[0]).startswith(f"{path}:4: model.d_embed: is 32 but model.d_model is 64;")


def test_recipe_rnn_null_embedding_size(tmp_path):
    path = write_recipe(tmp_path, architecture="gru", model="  d_model: 64\n  d_embed: null")
    recipe = load_recipe(path, get_registry(refresh=True))
    assert recipe.model.options.embedding_size == 64


def test_recipe_text_dataset_needs_path(tmp_path):
    path = tmp_path / "recipe.yaml"
    path.write_text("model: {architecture: gpt}\ndata: {dataset: text}\ntrain: {trainer: causal-lm}\n")
    with pytest.raises(ValidationError) as caught:
        load_recipe(path, get_registry(refresh=True))
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:2: data.path: required option is missing; add 'path:' to the data section",
    ]
