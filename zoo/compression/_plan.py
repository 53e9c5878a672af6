"""The plan of ``zoo compress``: parse the command's steps, then build and validate the new entry's recipe.

A compressed entry's recipe is its base's recipe plus ``base: <entry>`` and the
``compress`` list, so loading it rebuilds the base architecture and then each
step's structure. Compressing an entry that is itself compressed appends the
new steps to its list and keeps the original base.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from zoo_registry import (Entry, Problem, Recipe, ValidationError, WeightsError, ZooError, apply_overrides,
                          get_registry, load_recipe, parse_yaml, resolve_entry, validate)

from ._context import resolve_with_weights

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_WITH = "--with"


@dataclass
class StepRequest:
    """One ``--with NAME key=value ...`` group of the command line."""

    compressor: str
    options: list[tuple[str, str]] = field(default_factory=list)


def parse_arguments(arguments: list[str]) -> tuple[list[StepRequest], list[str]]:
    """Split the command's extra arguments into ``--with`` steps and ``section.option=value`` overrides.

    After ``--with NAME``, a ``key=value`` without a dot is an option of that step;
    ``section.option=value`` is always a recipe override.
    """
    steps: list[StepRequest] = []
    overrides: list[str] = []
    problems: list[Problem] = []
    tokens = list(arguments)
    index = 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if token == _WITH or token.startswith(_WITH + "="):
            if token == _WITH:
                name = tokens[index] if index < len(tokens) else ""
                index += 1
            else:
                name = token[len(_WITH) + 1:]
            if not name or name.startswith("-") or "=" in name:
                problems.append(Problem("command line", _WITH, f"needs a compressor name, got {name or 'nothing'!r}; "
                                                               f"for example --with int8-dynamic"))
                continue
            steps.append(StepRequest(name))
            continue
        key, sep, value = token.partition("=")
        if not sep or not key:
            problems.append(Problem("command line", token, "is not an option; write compressor options as key=value "
                                                           "after --with NAME, and recipe overrides as "
                                                           "section.option=value"))
        elif "." in key or "[" in key:
            overrides.append(token)
        elif not steps:
            problems.append(Problem("command line", token, f"comes before any --with; write it after the compressor it "
                                                           f"belongs to, e.g. --with prune {token}"))
        else:
            steps[-1].options.append((key, value))
    if problems:
        raise ValidationError(problems)
    return steps, overrides


@dataclass
class Plan:
    """A validated compression: the new entry's name and recipe, its base, and which steps are new."""

    name: str
    recipe: Recipe
    base: Entry
    base_recipe: Recipe
    first_new_step: int
    card_source: Entry | None = None

    @property
    def new_steps(self) -> list:
        return self.recipe.compress[self.first_new_step:]


def _default_name(base: str, steps: list[StepRequest]) -> str:
    return "-".join([base, *(step.compressor for step in steps)])


def _require_base(name: str) -> tuple[Entry, Recipe]:
    base = resolve_with_weights(name)
    if not base.has_weights:
        raise WeightsError(f"base entry {base.label!r} has no weights to compress; train it first with "
                           f"'zoo train {base.name}'")
    return base, load_recipe(base.recipe_path, get_registry())


def _validated(data: dict[str, Any], source: str, overrides: list[str]) -> Recipe:
    doc = parse_yaml(yaml.safe_dump(data, sort_keys=False), source)
    overridden = apply_overrides(doc, overrides)
    return validate(doc, get_registry(), overridden)


def plan_compression(source: str, steps: list[StepRequest], overrides: list[str], name: str | None = None) -> Plan:
    """Resolve the entries and validate the new recipe; raise a ``ZooError`` before any work for bad input."""
    if name is not None and not _NAME.match(name):
        raise ValidationError([Problem("command line", "--name", f"{name!r} is not a valid entry name; use lowercase "
                                                                 f"letters, digits, '.', '-' or '_', e.g. char-gpt-int8")])
    registry = get_registry()
    card_source = None
    if steps:
        base, base_recipe = _require_base(source)
        inherited = len(base_recipe.compress)
        data = copy.deepcopy(base_recipe.resolved)
        data["base"] = base_recipe.base if inherited else base.name
        data["compress"] = [*data.get("compress", []), *({"compressor": step.compressor} for step in steps)]
        step_overrides = [f"compress[{inherited + i}].{key}={value}"
                          for i, step in enumerate(steps) for key, value in step.options]
        recipe = _validated(data, f"{base.recipe_path} with the --with steps", step_overrides + overrides)
        name = name or _default_name(base.name, steps)
    else:
        card_source = resolve_entry(registry, source)
        recipe = load_recipe(card_source.recipe_path, registry, overrides)
        if not recipe.compress:
            raise ZooError(f"entry {card_source.name!r} has no compress steps in {card_source.recipe_path}; name them "
                           f"on the command line, e.g. 'zoo compress {card_source.name} --with int8-dynamic'")
        if not recipe.base:
            raise ZooError(f"{card_source.recipe_path} has compress steps but no base entry; add 'base: <entry>' "
                           f"naming the trained entry to compress")
        base, base_recipe = _require_base(recipe.base)
        inherited = len(base_recipe.compress)
        if inherited:
            data = copy.deepcopy(recipe.resolved)
            data["base"] = base_recipe.base
            data["compress"] = [*base_recipe.resolved["compress"], *data["compress"]]
            recipe = _validated(data, f"{card_source.recipe_path} on top of {base.label}", [])
        name = name or card_source.name

    plan = Plan(name=name, recipe=recipe, base=base, base_recipe=base_recipe, first_new_step=inherited,
                card_source=card_source)
    _check_sections(plan)
    return plan


def _check_sections(plan: Plan) -> None:
    """The new recipe must read the base's data; only a step that trains a new model may change the model."""
    if plan.recipe.resolved["data"] != plan.base_recipe.resolved["data"]:
        raise ValidationError([Problem(plan.recipe.source, "data", f"differs from the data section of base entry "
                                       f"{plan.base.label}; a compressed entry is evaluated on its base's data, so "
                                       f"copy the base's data section")])
    if plan.recipe.resolved["model"] == plan.base_recipe.resolved["model"]:
        return
    from ..runner._build import load_target

    first = plan.new_steps[0] if plan.new_steps else None
    if plan.first_new_step or first is None or not getattr(load_target(first), "trains_new_model", False):
        raise ValidationError([Problem(plan.recipe.source, "model", f"differs from the model section of base entry "
                                       f"{plan.base.label}; only a first step that trains a new model (distill) "
                                       f"can change it, so copy the base's model section or start with distill")])
