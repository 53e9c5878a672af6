"""Sweeps over the whole first-party zoo: every shipped entry validates, and the model its
recipe builds has the parameter count its card states and trains for one step."""

from __future__ import annotations

import pytest
import torch

from zoo_registry import card_problems, find_entries, get_registry, load_recipe, read_card
from zoo_testing import REPO

from zoo.runner._build import block_size_of, build_parts

SHIPPED = sorted(p for p in (REPO / "cards").iterdir() if (p / "recipe.yaml").is_file())


def test_zoo_ships_entries():
    assert len(SHIPPED) >= 3


@pytest.mark.parametrize("folder", SHIPPED, ids=lambda p: p.name)
def test_shipped_entry_validates(folder):
    card = read_card(folder / "README.md")
    assert card_problems(card, str(folder / "README.md")) == []
    load_recipe(folder / "recipe.yaml", get_registry())


@pytest.mark.parametrize("folder", SHIPPED, ids=lambda p: p.name)
def test_shipped_entry_builds_and_steps(folder):
    recipe = load_recipe(folder / "recipe.yaml", get_registry())
    if recipe.base is not None:
        pytest.skip("a derived entry is built from its base entry's weights")
    torch.manual_seed(0)
    parts = build_parts(recipe)
    model = parts.model
    stated = read_card(folder / "README.md").data.to_dict()["zoo"]["parameters"]
    counted = sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
    assert counted == stated, f"{folder.name}: the card states {stated} parameters, the recipe builds {counted}"

    split = parts.dataset.split("train", block_size_of(recipe))
    batch = parts.dataset.collate([split[i] for i in range(2)])
    loss = parts.trainer.loss(model, batch)
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_shipped_entries_are_listed():
    names = {e.name for e in find_entries(get_registry(refresh=True))}
    assert {p.name for p in SHIPPED} <= names
