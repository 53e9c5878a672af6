"""The first-party vision entries: each card validates and states the real parameter count."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from zoo_registry import get_registry, load_object, load_recipe, read_card, zoo_fields

CARDS = Path(__file__).resolve().parents[3] / "cards"
VISION_CARDS = ["digits-cnn", "digits-resnet"]


@pytest.mark.parametrize("name", VISION_CARDS)
def test_card_validates(name):
    result = subprocess.run([sys.executable, "-m", "zoo", "validate", str(CARDS / name)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{CARDS / name}: valid"


@pytest.mark.parametrize("name", VISION_CARDS)
def test_card_parameters_match_model(name):
    recipe = load_recipe(CARDS / name / "recipe.yaml", get_registry(refresh=True))
    dataset = load_object(recipe.data.component.spec.target)(recipe.data.options)
    model = load_object(recipe.model.component.spec.target)(recipe.model.options, dataset.info())
    card = zoo_fields(read_card(CARDS / name / "README.md"))
    assert card["parameters"] == sum(p.numel() for p in model.parameters())
    assert card["architecture"] == recipe.model.component.spec.name
    assert card["task"] == "image-classification"


@pytest.mark.parametrize("name", VISION_CARDS)
def test_recipe_header_shows_command(name):
    text = (CARDS / name / "recipe.yaml").read_text()
    header = text[:text.index("\nmodel:")]
    assert all(line.startswith("#") or not line for line in header.splitlines())
    assert f"#   zoo train {name}\n" in header
    assert f"#   zoo train {name} train.max_steps=" in header
    assert "Time on 2 CPU cores: " in header
