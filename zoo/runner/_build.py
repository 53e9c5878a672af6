"""Build a run's parts from a validated recipe: dataset, model, trainer."""

from __future__ import annotations

import dataclasses
import importlib.metadata
from dataclasses import dataclass
from typing import Any

import torch

from zoo_registry import MissingPluginError, Recipe, load_object


@dataclass
class Parts:
    """The objects one recipe builds; ``info`` is what the dataset reported."""

    dataset: Any
    info: dict[str, Any]
    model: torch.nn.Module
    trainer: Any


def block_size_of(recipe: Recipe) -> int | None:
    """Return the model's context length when its architecture has one (the ``block_size`` option)."""
    return getattr(recipe.model.options, "block_size", None)


def load_target(section) -> Any:
    """Import the implementation of a recipe section's component."""
    spec, plugin = section.component.spec, section.component.plugin
    try:
        return load_object(spec.target)
    except ImportError as error:
        raise MissingPluginError(
            f"{spec.kind} {spec.name!r} of plugin {plugin.distribution} failed to import {spec.target!r}: {error}. "
            f"Reinstall it with 'pip install {plugin.distribution}'."
        ) from error


def build_dataset(recipe: Recipe, artifacts=None) -> Any:
    return load_target(recipe.data)(recipe.data.options, artifacts=artifacts)


def build_model(recipe: Recipe, info: dict[str, Any]) -> torch.nn.Module:
    return load_target(recipe.model)(recipe.model.options, info)


def build_trainer(recipe: Recipe, info: dict[str, Any]) -> Any:
    return load_target(recipe.train)(recipe.train.options, info)


def build_parts(recipe: Recipe, artifacts=None) -> Parts:
    """Build dataset, model and trainer; the dataset's ``info`` sizes the model."""
    dataset = build_dataset(recipe, artifacts)
    info = dataset.info()
    return Parts(dataset=dataset, info=info, model=build_model(recipe, info), trainer=build_trainer(recipe, info))


def plugin_versions(recipe: Recipe) -> dict[str, str]:
    """Return the distribution and version of every plugin the recipe uses, plus zoo's own."""
    sections = [recipe.model, recipe.data, recipe.train, *recipe.compress]
    versions = {s.component.plugin.distribution: s.component.plugin.version for s in sections}
    for name in ("zoo", "zoo-registry"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return dict(sorted(versions.items()))


def options_dict(options: Any) -> dict[str, Any]:
    return dataclasses.asdict(options) if options is not None else {}
