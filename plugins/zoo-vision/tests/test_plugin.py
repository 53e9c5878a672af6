"""The plugin's declarations, its torch-free imports, and recipe checks of its options."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from zoo_registry import RunnerConfig, ValidationError, get_registry, load_object, load_recipe
from zoo_vision import _plugin

COMPONENTS = {
    ("architecture", "cnn"), ("architecture", "resnet"), ("dataset", "digits"), ("dataset", "image-folder"),
    ("trainer", "image-classification"),
}
DIGITS_CNN = Path(__file__).resolve().parents[3] / "cards" / "digits-cnn" / "recipe.yaml"


def test_declarations_import_without_torch():
    code = textwrap.dedent("""
        import sys
        import zoo_vision, zoo_vision._plugin
        from zoo_registry import load_object
        specs = zoo_vision._plugin.zoo_components()
        for spec in specs:
            load_object(spec.config)
        heavy = sorted(name for name in ("torch", "numpy", "PIL", "sklearn", "matplotlib") if name in sys.modules)
        print(len(specs), heavy)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "5 []"


def test_components_are_declared():
    specs = _plugin.zoo_components()
    assert {(s.kind, s.name) for s in specs} == COMPONENTS
    for spec in specs:
        assert spec.problems() == []
        assert spec.task == "image-classification"
        assert spec.summary
        assert "\n" not in spec.summary
        assert callable(load_object(spec.target))
        assert dataclasses.is_dataclass(load_object(spec.config))


def test_registry_resolves_components():
    registry = get_registry(refresh=True)
    for kind, name in COMPONENTS:
        assert registry.resolve(kind, name).plugin.distribution == "zoo-vision"


def test_options_have_help_and_defaults():
    for spec in _plugin.zoo_components():
        for field in dataclasses.fields(load_object(spec.config)):
            assert field.metadata["help"].endswith("."), (spec.name, field.name)


def test_trainer_options_avoid_runner_names():
    runner = {f.name for f in dataclasses.fields(RunnerConfig)}
    for spec in _plugin.zoo_components():
        names = {f.name for f in dataclasses.fields(load_object(spec.config))}
        assert names & runner == set(), spec.name
        assert "block_size" not in names, spec.name


def test_recipe_label_smoothing_out_of_range():
    with pytest.raises(ValidationError) as error:
        load_recipe(DIGITS_CNN, get_registry(refresh=True), ["train.label_smoothing=1.0"])
    assert str(error.value) == ("1 problem found:\n  command line: train.label_smoothing: 1.0 is out of range; "
                                "it must be < 1")


def test_recipe_unequal_kernel_sizes():
    with pytest.raises(ValidationError) as error:
        load_recipe(DIGITS_CNN, get_registry(refresh=True), ["model.kernel_sizes=[3, 3]"])
    assert str(error.value) == (
        "1 problem found:\n  command line: model.kernel_sizes: has 2 entries but channels has 3; give one kernel size "
        "per conv block, e.g. kernel_sizes: [3, 3, 3]")


@pytest.mark.parametrize(("override", "message"), [
    ("model.norm=layer", "command line: model.norm: 'layer' is not allowed; use one of 'batch', 'group', 'none'."),
    ("data.channels=2", "command line: data.channels: 2 is not allowed; use one of 1, 3."),
    ("train.top_k=0", "command line: train.top_k: 0 is out of range; it must be >= 1"),
    ("model.dropout=1", "command line: model.dropout: 1.0 is out of range; it must be < 1"),
])
def test_recipe_option_bounds(override, message, tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(textwrap.dedent(f"""\
        model: {{architecture: cnn}}
        data: {{dataset: image-folder, root: {tmp_path}}}
        train: {{trainer: image-classification}}
    """))
    with pytest.raises(ValidationError) as error:
        load_recipe(recipe, get_registry(refresh=True), [override])
    assert str(error.value) == f"1 problem found:\n  {message}"


def test_recipe_image_folder_needs_root(tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("model: {architecture: resnet}\ndata: {dataset: image-folder}\n"
                      "train: {trainer: image-classification}\n")
    with pytest.raises(ValidationError) as error:
        load_recipe(recipe, get_registry(refresh=True))
    assert str(error.value) == (f"1 problem found:\n  {recipe}:2: data.root: required option is missing; add "
                                f"'root:' to the data section")


def test_components_follow_protocols(tmp_path):
    from zoo_registry import Architecture, Dataset, Trainer
    from zoo_vision.classification import ImageClassificationTrainer
    from zoo_vision.cnn import build_cnn
    from zoo_vision.digits import DigitsDataset
    from zoo_vision.image_folder import ImageFolderDataset
    from zoo_vision.options import ClassificationOptions, DigitsOptions, ImageFolderOptions
    from zoo_vision.resnet import build_resnet

    assert isinstance(build_cnn, Architecture)
    assert isinstance(build_resnet, Architecture)
    digits = DigitsDataset(DigitsOptions())
    assert isinstance(digits, Dataset)
    assert isinstance(ImageFolderDataset(ImageFolderOptions(root=str(tmp_path))), Dataset)
    assert isinstance(ImageClassificationTrainer(ClassificationOptions(), digits.info()), Trainer)
