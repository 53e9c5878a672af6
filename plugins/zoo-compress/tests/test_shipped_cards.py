"""The shipped compressed cards stay in step with their base cards: ``zoo compress`` requires the base's
data section, and the base's model section unless the first step trains a new model."""

from __future__ import annotations

from pathlib import Path

import pytest

from zoo_registry import get_registry, load_recipe

CARDS = Path(__file__).resolve().parents[3] / "cards"
COMPRESSED = sorted(p for p in CARDS.iterdir() if (p / "recipe.yaml").is_file()
                    and load_recipe(p / "recipe.yaml", get_registry()).compress)


def test_zoo_ships_compressed_entries():
    assert {p.name for p in COMPRESSED} >= {"char-gpt-int8", "char-lstm-int8", "char-gpt-pruned",
                                            "char-gpt-distilled", "digits-cnn-pruned"}


@pytest.mark.parametrize("folder", COMPRESSED, ids=lambda p: p.name)
def test_compressed_card_matches_base(folder):
    recipe = load_recipe(folder / "recipe.yaml", get_registry())
    base = load_recipe(CARDS / recipe.base / "recipe.yaml", get_registry())
    assert recipe.resolved["data"] == base.resolved["data"]
    if recipe.compress[0].component.spec.name != "distill":
        assert recipe.resolved["model"] == base.resolved["model"]
