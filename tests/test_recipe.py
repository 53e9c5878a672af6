"""Recipe validation: every problem reported with file, field and line; YAML 1.1 pitfalls; overrides."""

from __future__ import annotations

import pytest

from zoo_registry import ValidationError, get_registry, load_recipe

PLUGIN = """
from zoo_registry import ComponentSpec, hookimpl

@hookimpl
def zoo_components():
    return [
        ComponentSpec(name="toy", kind="architecture", target="zoo_toy.impl:build", config="zoo_toy.options:ToyModel"),
        ComponentSpec(name="toy-data", kind="dataset", target="zoo_toy.impl:Data", config="zoo_toy.options:ToyData"),
        ComponentSpec(name="toy-trainer", kind="trainer", target="zoo_toy.impl:Trainer", config="zoo_toy.options:ToyTrain"),
        ComponentSpec(name="toy-prune", kind="compressor", target="zoo_toy.impl:Prune", config="zoo_toy.options:ToyPrune"),
    ]
"""

OPTIONS = """
from dataclasses import dataclass
from zoo_registry import Problem, ValidationError, option

@dataclass
class ToyModel:
    n_layer: int = option(2, help="Layers.", min=1)
    dropout: float = option(0.0, help="Dropout.", min=0, max=1, max_exclusive=True)
    activation: str = option("gelu", help="Activation.", choices=("gelu", "relu"))
    bias: bool = option(True, help="Use biases.")
    widths: list[int] = option([8, 8], help="Widths.")
    name: str | None = option(None, help="Optional name.")

    def __post_init__(self):
        if self.n_layer > len(self.widths) + 8:
            raise ValidationError([Problem("options", "model.n_layer", "is larger than the widths allow")])

@dataclass
class ToyData:
    path: str = option(help="Data file.")
    version: str = option("1.0", help="Data version.")

@dataclass
class ToyTrain:
    label_smoothing: float = option(0.0, help="Label smoothing.", min=0, max=1, max_exclusive=True)

@dataclass
class ToyPrune:
    sparsity: float = option(0.5, help="Fraction of weights removed.", min=0, max=1, min_exclusive=True, max_exclusive=True)
"""

GOOD = """\
# A toy recipe.
model:
  architecture: toy
  n_layer: 3
data:
  dataset: toy-data
  path: data.txt
train:
  trainer: toy-trainer
  max_steps: 10
  lr: 1e-3
"""


@pytest.fixture
def registry(zoo_env, plugin_factory, monkeypatch):
    # Only the toy plugin loads, so listings in messages do not depend on what else is installed.
    monkeypatch.setenv("ZOO_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("ZOO_PLUGINS", "zoo-toy")
    plugin_factory("zoo-toy", "zoo_toy", PLUGIN, files={"options.py": OPTIONS})
    return get_registry(refresh=True)


def write(tmp_path, text: str):
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    return path


def problems_of(path, registry, overrides=()) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        load_recipe(path, registry, overrides)
    return [str(p) for p in caught.value.problems]


def test_recipe_valid(tmp_path, registry):
    recipe = load_recipe(write(tmp_path, GOOD), registry)
    assert recipe.model.options.n_layer == 3
    assert recipe.runner.lr == 0.001
    assert isinstance(recipe.runner.lr, float)
    assert recipe.resolved["train"]["lr"] == 0.001
    assert recipe.resolved["model"]["architecture"] == "toy"


def test_recipe_float_written_as_exponent(tmp_path, registry):
    # PyYAML reads 1e-3 (no dot) as a string; the float field turns it into 0.001.
    recipe = load_recipe(write(tmp_path, GOOD.replace("lr: 1e-3", "lr: 3E-4")), registry)
    assert recipe.runner.lr == 3e-4


def test_recipe_norway_problem_for_strings(tmp_path, registry):
    text = GOOD + "  mixed_precision: no\n"
    text = text.replace("path: data.txt", "path: data.txt\n  version: 1.10")
    recipe = load_recipe(write(tmp_path, text), registry)
    assert recipe.runner.mixed_precision == "no"
    assert recipe.data.options.version == "1.10"


def test_recipe_octal_integer(tmp_path, registry):
    path = write(tmp_path, GOOD.replace("max_steps: 10", "max_steps: 010"))
    assert problems_of(path, registry) == [
        f"{path}:10: train.max_steps: 010 has a leading zero, which YAML 1.1 reads as the octal number 8; "
        f"write 10 for decimal, or 0o10 for octal"
    ]


def test_recipe_sexagesimal_integer(tmp_path, registry):
    path = write(tmp_path, GOOD.replace("max_steps: 10", "max_steps: 1:30"))
    assert problems_of(path, registry) == [
        f"{path}:10: train.max_steps: 1:30 is read by YAML 1.1 as the base-60 number 90; write the integer you mean"
    ]


def test_recipe_boolean_for_number(tmp_path, registry):
    path = write(tmp_path, GOOD.replace("n_layer: 3", "n_layer: yes"))
    assert problems_of(path, registry) == [
        f"{path}:4: model.n_layer: expected an integer, got the boolean 'yes'; YAML reads yes/no/on/off as "
        f"booleans, so write a number"
    ]


def test_recipe_integer_written_as_float(tmp_path, registry):
    recipe = load_recipe(write(tmp_path, GOOD.replace("max_steps: 10", "max_steps: 1e3")), registry)
    assert recipe.runner.max_steps == 1000
    path = write(tmp_path, GOOD.replace("max_steps: 10", "max_steps: 10.5"))
    assert problems_of(path, registry) == [f"{path}:10: train.max_steps: expected an integer, got 10.5"]


def test_recipe_collects_every_problem(tmp_path, registry):
    text = """\
model:
  architecture: toy
  n_layer: 0
  dropout: 1.0
  activation: rleu
  widths: 8
data:
  dataset: toy-dta
train:
  trainer: toy-trainer
  lrr: 0.1
  mixed_precision: fp8
trian: {}
"""
    path = write(tmp_path, text)
    assert problems_of(path, registry) == [
        f"{path}:13: trian: unknown section. Did you mean 'train'? Valid sections: model, data, train, base, compress",
        f"{path}:3: model.n_layer: 0 is out of range; it must be >= 1",
        f"{path}:4: model.dropout: 1.0 is out of range; it must be < 1",
        f"{path}:5: model.activation: 'rleu' is not allowed; use one of 'gelu', 'relu'. Did you mean 'relu'?",
        f"{path}:6: model.widths: expected a list of an integer, got 8; write it as [a, b]",
        f"{path}:8: data.dataset: unknown dataset 'toy-dta'. Did you mean 'toy-data'? Installed datasets: toy-data. "
        f"Run 'zoo plugins' to see what is installed.",
        f"{path}:11: train.lrr: unknown option 'lrr'. Did you mean 'lr'? Valid options: " + ", ".join(sorted([
            "trainer", "label_smoothing", "max_steps", "batch_size", "grad_accum_steps", "lr", "min_lr",
            "warmup_steps", "weight_decay", "beta1", "beta2", "grad_clip", "mixed_precision", "eval_interval",
            "eval_batches", "final_eval_batches", "checkpoint_interval", "log_interval", "seed", "trackers"])),
        f"{path}:12: train.mixed_precision: 'fp8' is not allowed; use one of 'no', 'bf16', 'fp16'.",
    ]


def test_recipe_cross_option_check_has_line(tmp_path, registry):
    path = write(tmp_path, GOOD.replace("n_layer: 3", "n_layer: 11"))
    assert problems_of(path, registry) == [f"{path}:4: model.n_layer: is larger than the widths allow"]


def test_recipe_required_option_missing(tmp_path, registry):
    path = write(tmp_path, GOOD.replace("  path: data.txt\n", ""))
    assert problems_of(path, registry) == [
        f"{path}:5: data.path: required option is missing; add 'path:' to the data section"
    ]


def test_recipe_missing_sections(tmp_path, registry):
    path = write(tmp_path, "model:\n  n_layer: 2\n")
    assert problems_of(path, registry) == [
        f"{path}:1: model.architecture: is missing; name the architecture of this recipe",
        f"{path}:1: data: section is missing; add 'data:' with 'dataset: <name>'",
        f"{path}:1: train: section is missing; add 'train:' with 'trainer: <name>'",
    ]


@pytest.mark.parametrize("text, message", [
    ("", "1: the file is empty; it must contain a YAML mapping"),
    ("# nothing but a comment\n\n", "1: the file is empty; it must contain a YAML mapping"),
    ("model:\n\tarchitecture: toy\n", "2: a tab is used for indentation; YAML allows only spaces, so replace the tab with spaces"),
    ("model: [1\n", "2: invalid YAML: while parsing a flow sequence expected ',' or ']', but got '<stream end>'"),
    ("- a\n- b\n", "1: a recipe must be a YAML mapping, got list"),
])
def test_recipe_unreadable_yaml(tmp_path, registry, text, message):
    path = write(tmp_path, text)
    assert problems_of(path, registry) == [f"{path}:{message}"]


def test_recipe_duplicate_key(tmp_path, registry):
    path = write(tmp_path, GOOD + "  lr: 0.1\n")
    assert problems_of(path, registry) == [
        f"{path}:12: train.lr: duplicate key 'lr' (first set on line 11); YAML keeps only the last value, so delete one of them"
    ]


def test_recipe_compress_steps(tmp_path, registry):
    text = GOOD + "compress:\n  - compressor: toy-prune\n    sparsity: 0.7\n  - compressor: toy-prun\n  - sparsity: 2\n"
    path = write(tmp_path, text)
    problems = problems_of(path, registry)
    assert problems == [
        f"{path}:15: compress[1].compressor: unknown compressor 'toy-prun'. Did you mean 'toy-prune'? "
        f"Installed compressors: toy-prune. Run 'zoo plugins' to see what is installed.",
        f"{path}:16: compress[2]: each step must be a mapping with 'compressor: <name>'",
    ]
    recipe = load_recipe(write(tmp_path, GOOD + "compress:\n  - compressor: toy-prune\n    sparsity: 0.7\n"), registry)
    assert recipe.compress[0].options.sparsity == 0.7


def test_overrides_apply_with_types(tmp_path, registry):
    recipe = load_recipe(write(tmp_path, GOOD), registry,
                         ["train.lr=3e-4", "model.n_layer=2", "model.bias=false", "train.mixed_precision=no",
                          "model.widths=[4, 4, 4]"])
    assert recipe.runner.lr == 3e-4
    assert recipe.model.options.n_layer == 2
    assert recipe.model.options.bias is False
    assert recipe.runner.mixed_precision == "no"
    assert recipe.model.options.widths == [4, 4, 4]
    assert recipe.resolved["train"]["lr"] == 3e-4


def test_overrides_report_errors(tmp_path, registry):
    path = write(tmp_path, GOOD)
    assert problems_of(path, registry, ["train.lrr=0.1", "model.n_layer=two"]) == [
        "command line: model.n_layer: expected an integer, got 'two'",
        "command line: train.lrr: unknown option 'lrr'. Did you mean 'lr'? Valid options: " + ", ".join(sorted([
            "trainer", "label_smoothing", "max_steps", "batch_size", "grad_accum_steps", "lr", "min_lr",
            "warmup_steps", "weight_decay", "beta1", "beta2", "grad_clip", "mixed_precision", "eval_interval",
            "eval_batches", "final_eval_batches", "checkpoint_interval", "log_interval", "seed", "trackers"])),
    ]


@pytest.mark.parametrize("override, message", [
    ("train.lr", "command line: train.lr: an override must look like section.option=value, e.g. train.lr=3e-4"),
    ("trian.lr=1", "command line: trian.lr: unknown section 'trian'. Did you mean 'train'?"),
    ("model.n_layer.x=1", "command line: model.n_layer.x: model.n_layer is not a section or list item that can be indexed"),
    ("compress[3].sparsity=0.5", "command line: compress[3].sparsity: compress has no item 3; the recipe has no compress list"),
    ("model[0]=1", "command line: model[0]: model is not a list"),
])
def test_overrides_malformed(tmp_path, registry, override, message):
    assert problems_of(write(tmp_path, GOOD), registry, [override]) == [message]


def test_resolved_recipe_round_trips(tmp_path, registry):
    recipe = load_recipe(write(tmp_path, GOOD), registry, ["train.lr=3e-4"])
    again = load_recipe(write(tmp_path, recipe.to_yaml()), registry)
    assert again.resolved == recipe.resolved
    assert again.hash == recipe.hash
