"""Recipes: reading, validating and overriding ``recipe.yaml``.

A recipe has four sections. Each names its component and contains that
component's options. ``train`` also contains the runner's options::

    model:    {architecture: gpt, n_layer: 4, ...}
    data:     {dataset: tiny-shakespeare, tokenizer: char, ...}
    train:    {trainer: causal-lm, max_steps: 2000, lr: 1e-3, ...}
    compress: [{compressor: prune, sparsity: 0.5}, ...]   # optional

plus an optional ``base`` entry name. Validation collects every problem with
its file, field path and line before raising.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ._components import load_object
from ._errors import (ComponentConflictError, Problem, UnknownComponentError,
                      ValidationError, close_matches)
from ._plugins import Registry, Resolved
from ._runner_config import RunnerConfig
from ._schema import CoercionError, check_bounds, coerce, option_fields
from ._yaml import Document, Scalar, format_path, parse_yaml

OVERRIDE_SOURCE = "command line"

# section -> (key naming the component, component kind)
SECTIONS = {
    "model": ("architecture", "architecture"),
    "data": ("dataset", "dataset"),
    "train": ("trainer", "trainer"),
}
TOP_LEVEL = ("model", "data", "train", "base", "compress")


@dataclass
class Section:
    """One validated component section: the component and its typed options."""

    component: Resolved
    options: Any


@dataclass
class Recipe:
    """A validated recipe with typed options for every component."""

    model: Section
    data: Section
    train: Section
    runner: RunnerConfig
    compress: list[Section] = field(default_factory=list)
    base: str | None = None
    source: str = ""
    resolved: dict = field(default_factory=dict)

    def to_yaml(self) -> str:
        """Return the resolved recipe (overrides applied, values typed) as YAML."""
        return yaml.safe_dump(self.resolved, sort_keys=False)

    @property
    def hash(self) -> str:
        """sha256 of the resolved recipe, independent of key order and comments."""
        canonical = json.dumps(self.resolved, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def _options_class(resolved: Resolved) -> type | None:
    if resolved.spec.config is None:
        return None
    cls = load_object(resolved.spec.config)
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{resolved.spec.config} of plugin {resolved.plugin.distribution} is not a dataclass")
    return cls


def _file_of(doc: Document, path: tuple, overridden: set[tuple]) -> tuple[str, int | None]:
    for i in range(len(path), 0, -1):
        if path[:i] in overridden:
            return OVERRIDE_SOURCE, None
    return doc.file, doc.line(path)


def _validate_options(values: dict, classes: list[type], path: tuple, doc: Document,
                      overridden: set[tuple], problems: list[Problem], skip: str) -> list[dict]:
    """Coerce ``values`` into the fields of ``classes``; return one kwargs dict per class."""
    fields_by_class = [option_fields(cls) for cls in classes]
    hints_by_class = [typing.get_type_hints(cls) for cls in classes]
    known = {name for fields in fields_by_class for name in fields} | {skip}
    kwargs: list[dict] = [{} for _ in classes]
    for key, value in values.items():
        key_path = path + (key,)
        file, line = _file_of(doc, key_path, overridden)
        if key not in known:
            hint = close_matches(str(key), sorted(known))
            valid = ", ".join(sorted(known))
            problems.append(Problem(file, format_path(key_path), f"unknown option {key!r}.{hint} Valid options: {valid}", line))
            continue
        if key == skip:
            continue
        for fields, hints, out in zip(fields_by_class, hints_by_class, kwargs):
            if key not in fields:
                continue
            try:
                coerced = coerce(value, hints[key], key_path, doc.origins)
            except CoercionError as error:
                problems.append(Problem(file, format_path(key_path), str(error), line))
                break
            bound = check_bounds(coerced, fields[key])
            if bound:
                problems.append(Problem(file, format_path(key_path), bound, line))
                break
            out[key] = coerced
            break
    for fields, out, cls in zip(fields_by_class, kwargs, classes):
        for name, f in fields.items():
            if name not in out and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING \
                    and name not in values:
                file, line = _file_of(doc, path, overridden)
                problems.append(Problem(file, format_path(path + (name,)),
                                        f"required option is missing; add '{name}:' to the {format_path(path)} section", line))
    return kwargs


def _resolve_component(registry: Registry, kind: str, name: Any, path: tuple, doc: Document,
                       overridden: set[tuple], problems: list[Problem]) -> Resolved | None:
    file, line = _file_of(doc, path, overridden)
    if not isinstance(name, str) or not name:
        problems.append(Problem(file, format_path(path), f"must name the {kind} to use, got {name!r}", line))
        return None
    try:
        return registry.resolve(kind, name)
    except (UnknownComponentError, ComponentConflictError) as error:
        problems.append(Problem(file, format_path(path), str(error), line))
        return None


def _section(registry: Registry, data: dict, name: str, doc: Document, overridden: set[tuple],
             problems: list[Problem], extra: list[type] = ()) -> tuple[Resolved | None, list[dict]]:
    key, kind = SECTIONS[name]
    path = (name,)
    file, line = _file_of(doc, path, overridden)
    values = data.get(name)
    if values is None:
        problems.append(Problem(file, name, f"section is missing; add '{name}:' with '{key}: <name>'", line))
        return None, []
    if not isinstance(values, dict):
        problems.append(Problem(file, name, f"must be a mapping with '{key}: <name>', got {values!r}", line))
        return None, []
    if key not in values:
        problems.append(Problem(file, f"{name}.{key}", f"is missing; name the {kind} of this recipe", doc.line(path)))
        return None, []
    component = _resolve_component(registry, kind, values[key], path + (key,), doc, overridden, problems)
    if component is None:
        return None, []
    try:
        options_class = _options_class(component)
    except Exception as error:
        problems.append(Problem(file, f"{name}.{key}", f"cannot load the options of {kind} {component.qualified_name}: {error}", line))
        return None, []
    classes = [c for c in (options_class, *extra) if c is not None]
    return component, _validate_options(values, classes, path, doc, overridden, problems, skip=key)


def validate(doc: Document, registry: Registry, overridden: set[tuple] = frozenset()) -> Recipe:
    """Validate a parsed recipe against the registry; raise ``ValidationError`` listing every problem."""
    problems: list[Problem] = []
    data = doc.data
    if not isinstance(data, dict):
        raise ValidationError([Problem(doc.file, "", f"a recipe must be a YAML mapping, got {type(data).__name__}", 1)])

    for key in data:
        if key not in TOP_LEVEL:
            file, line = _file_of(doc, (key,), overridden)
            problems.append(Problem(file, str(key), f"unknown section.{close_matches(str(key), TOP_LEVEL)} "
                                    f"Valid sections: {', '.join(TOP_LEVEL)}", line))

    sections: dict[str, Section] = {}
    runner = RunnerConfig()
    for name in SECTIONS:
        extra = [RunnerConfig] if name == "train" else []
        component, kwargs = _section(registry, data, name, doc, overridden, problems, extra)
        if component is None:
            continue
        classes = [c for c in (_options_class(component), *extra) if c is not None]
        instances = []
        for cls, values in zip(classes, kwargs):
            try:
                instances.append(cls(**values))
            except TypeError:
                instances.append(None)  # a required option is missing; already reported
            except ValidationError as error:
                # Checks across options run in the options class; give their problems this recipe's file and line.
                instances.append(None)
                for problem in error.problems:
                    path = tuple(problem.field.split(".")) if problem.field else (name,)
                    file, line = _file_of(doc, path, overridden)
                    problems.append(Problem(file, problem.field or name, problem.message, line))
        if name == "train" and instances and isinstance(instances[-1], RunnerConfig):
            runner = instances.pop()
        sections[name] = Section(component, instances[0] if instances else None)

    compress: list[Section] = []
    steps = data.get("compress") or []
    if not isinstance(steps, list):
        file, line = _file_of(doc, ("compress",), overridden)
        problems.append(Problem(file, "compress", "must be a list of steps, each '- compressor: <name>'", line))
        steps = []
    for index, step in enumerate(steps):
        path = ("compress", index)
        file, line = _file_of(doc, path, overridden)
        if not isinstance(step, dict) or "compressor" not in step:
            problems.append(Problem(file, format_path(path), "each step must be a mapping with 'compressor: <name>'", line))
            continue
        component = _resolve_component(registry, "compressor", step["compressor"], path + ("compressor",), doc, overridden, problems)
        if component is None:
            continue
        cls = _options_class(component)
        (values,) = _validate_options(step, [cls] if cls else [], path, doc, overridden, problems, "compressor") or [{}]
        compress.append(Section(component, cls(**values) if cls else None))

    base = data.get("base")
    if base is not None and not isinstance(base, str):
        file, line = _file_of(doc, ("base",), overridden)
        problems.append(Problem(file, "base", f"must be the name of an entry, got {base!r}", line))

    if problems:
        raise ValidationError(problems)
    return Recipe(
        model=sections["model"], data=sections["data"], train=sections["train"], runner=runner,
        compress=compress, base=base, source=doc.file, resolved=_resolved_dict(sections, runner, compress, base),
    )


def _resolved_dict(sections: dict[str, Section], runner: RunnerConfig, compress: list[Section], base: str | None) -> dict:
    out: dict[str, Any] = {}
    if base is not None:
        out["base"] = base
    for name, (key, _) in SECTIONS.items():
        section = sections[name]
        values = {key: section.component.spec.name}
        if section.options is not None:
            values.update(dataclasses.asdict(section.options))
        if name == "train":
            values.update(dataclasses.asdict(runner))
        out[name] = values
    if compress:
        out["compress"] = [
            {"compressor": s.component.spec.name, **(dataclasses.asdict(s.options) if s.options is not None else {})}
            for s in compress
        ]
    return out


_INDEX = re.compile(r"^(.*)\[(\d+)\]$")


def _parse_key(key: str) -> tuple:
    parts: list[Any] = []
    for part in key.split("."):
        match = _INDEX.match(part)
        if match:
            parts.extend([match.group(1), int(match.group(2))])
        elif part.isdigit() and parts:
            parts.append(int(part))
        else:
            parts.append(part)
    return tuple(p for p in parts if p != "")


def apply_overrides(doc: Document, overrides: list[str]) -> set[tuple]:
    """Apply ``key.path=value`` overrides to ``doc`` in place; return the paths they set.

    Values are parsed as YAML, so ``train.lr=3e-4`` and ``model.bias=false``
    get the same treatment as in the file. A key naming no existing section
    or list item is reported; unknown option names inside a section are
    reported by validation, with suggestions.
    """
    problems: list[Problem] = []
    overridden: set[tuple] = set()
    for override in overrides:
        key, sep, text = override.partition("=")
        path = _parse_key(key.strip())
        if not sep or not path:
            problems.append(Problem(OVERRIDE_SOURCE, override, "an override must look like section.option=value, e.g. train.lr=3e-4"))
            continue
        try:
            node = yaml.compose(text) if text.strip() else None
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError as error:
            problems.append(Problem(OVERRIDE_SOURCE, key, f"value {text!r} is not valid YAML: {error}"))
            continue
        target = doc.data
        for depth, part in enumerate(path[:-1]):
            where = format_path(path[:depth + 1])
            if isinstance(target, list):
                if not isinstance(part, int) or part >= len(target):
                    problems.append(Problem(OVERRIDE_SOURCE, key, f"{format_path(path[:depth])} has no item {part}; "
                                            f"the list has {len(target)} items"))
                    break
                child = target[part]
            elif isinstance(part, int):
                problems.append(Problem(OVERRIDE_SOURCE, key, f"{format_path(path[:depth])} is not a list"))
                break
            elif part not in target:
                if depth == 0 and part not in TOP_LEVEL:
                    problems.append(Problem(OVERRIDE_SOURCE, key, f"unknown section {part!r}.{close_matches(str(part), TOP_LEVEL)}"))
                    break
                if isinstance(path[depth + 1], int):
                    problems.append(Problem(OVERRIDE_SOURCE, key, f"{where} has no item {path[depth + 1]}; "
                                            f"the recipe has no {where} list"))
                    break
                child = target[part] = {}
            else:
                child = target[part]
            if not isinstance(child, (dict, list)):
                problems.append(Problem(OVERRIDE_SOURCE, key, f"{where} is not a section or list item that can be indexed"))
                break
            target = child
        else:
            last = path[-1]
            if isinstance(target, list):
                if not isinstance(last, int) or last >= len(target):
                    problems.append(Problem(OVERRIDE_SOURCE, key, f"index out of range; the list has {len(target)} items"))
                    continue
            elif isinstance(last, int):
                problems.append(Problem(OVERRIDE_SOURCE, key, f"{format_path(path[:-1])} is not a list"))
                continue
            elif len(path) == 1 and last not in TOP_LEVEL:
                problems.append(Problem(OVERRIDE_SOURCE, key, f"unknown section {last!r}.{close_matches(str(last), TOP_LEVEL)}"))
                continue
            target[last] = value
            scalar = isinstance(node, yaml.ScalarNode)
            doc.origins[path] = Scalar(0, node.value if scalar else None, quoted=scalar and node.style in ("'", '"'))
            overridden.add(path)
    if problems:
        raise ValidationError(problems)
    return overridden


def load_recipe(path: str | Path, registry: Registry, overrides: list[str] = ()) -> Recipe:
    """Read, override and validate a recipe file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ValidationError([Problem(str(path), "", f"cannot read the recipe: {error.strerror}")]) from None
    doc = parse_yaml(text, str(path))
    if not isinstance(doc.data, dict):
        raise ValidationError([Problem(doc.file, "", f"a recipe must be a YAML mapping, got {type(doc.data).__name__}", 1)])
    overridden = apply_overrides(doc, list(overrides))
    return validate(doc, registry, overridden)
