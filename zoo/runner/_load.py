"""Load a stored entry for evaluation or inference."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import torch

from zoo_registry import CARD_FILE, WEIGHTS_FILE, Entry, Recipe, WeightsError, get_registry, load_recipe

from ..weights import check_entry_weights, load_weights
from ._build import block_size_of, build_dataset, build_model, build_trainer, load_target
from ._publish import CONFIG_FILE

logger = logging.getLogger("zoo")


@dataclass
class LoadedEntry:
    """A stored entry rebuilt in memory: recipe, dataset (for its encoding), model with weights, trainer."""

    entry: Entry
    recipe: Recipe
    dataset: Any
    info: dict[str, Any]
    model: torch.nn.Module
    trainer: Any

    @property
    def block_size(self) -> int | None:
        return block_size_of(self.recipe)


def require_weights(entry: Entry) -> None:
    if not entry.has_weights:
        raise WeightsError(
            f"entry {entry.label!r} ({entry.path}) has no weights ({WEIGHTS_FILE}); "
            f"train it with 'zoo train {entry.name}' or download it with 'zoo pull <namespace/repo>'"
        )


def load_entry(entry: Entry) -> LoadedEntry:
    """Rebuild an entry's model from recipe.yaml and config.json and load its verified weights."""
    require_weights(entry)
    config_path = entry.path / CONFIG_FILE
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
        info = config["info"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as error:
        raise WeightsError(f"{config_path} is missing or invalid ({error}); the entry cannot be rebuilt") from None
    recipe = load_recipe(entry.recipe_path, get_registry())
    dataset = build_dataset(recipe, artifacts=entry.path)
    model = build_model(recipe, info)
    # A compressed entry's weights have the compressed structure (int8 tensors, pruned
    # channels, factorized layers); each step rebuilds that structure before loading.
    for step in recipe.compress:
        model = load_target(step)(step.options).restore(model, info)
    if entry.card is None:
        raise WeightsError(f"{entry.path / CARD_FILE} is missing or invalid: {entry.card_error}")
    hashes = entry.zoo.get("weights") or {}
    if hashes:
        # Every weights file of the entry, not only the one loaded, must match the card.
        check_entry_weights(entry.path, hashes)
    else:
        logger.warning("the card of %s records no weights sha256 (zoo.weights); %s is loaded unverified",
                       entry.label, WEIGHTS_FILE)
    load_weights(model, entry.path / WEIGHTS_FILE, hashes.get(WEIGHTS_FILE))
    model.eval()
    return LoadedEntry(entry=entry, recipe=recipe, dataset=dataset, info=info, model=model,
                       trainer=build_trainer(recipe, info))
