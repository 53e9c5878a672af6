"""Model cards: Hugging Face ``README.md`` files with zoo's fields under one key.

Cards are read and written through ``huggingface_hub.ModelCard`` so the
metadata stays what the Hub accepts. zoo's own fields live under ``zoo:``::

    library_name: zoo
    pipeline_tag: text-generation
    zoo:
      architecture: gpt
      task: text-generation
      parameters: 800000
      metrics: {val_loss: 1.87}
      weights: {model.safetensors: <sha256>}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from huggingface_hub import ModelCard, ModelCardData

from ._errors import Problem, ValidationError

ZOO_KEY = "zoo"
LIBRARY_NAME = "zoo"

# zoo field -> (expected Python type, description used in error messages)
_ZOO_FIELDS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "architecture": (str, "the architecture name, e.g. gpt"),
    "task": (str, "the task, e.g. text-generation"),
    "parameters": (int, "the parameter count as an integer"),
    "metrics": (dict, "a mapping of metric name to number"),
    "eval_tolerance": ((int, float), "the relative tolerance for 'zoo eval --check'"),
    "weights": (dict, "a mapping of weights file name to sha256"),
    "base": (str, "the name of the entry this one was derived from"),
    "lineage": (dict, "a mapping describing how the weights were produced"),
    "plugins": (dict, "a mapping of plugin distribution to version"),
}


def read_card(path: str | Path) -> ModelCard:
    """Load a card from a ``README.md`` path, raising ``ValidationError`` on bad metadata."""
    path = Path(path)
    if not path.is_file():
        raise ValidationError([Problem(str(path), "", "the model card is missing; every entry needs a README.md")])
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---"):
        raise ValidationError([Problem(str(path), "", "the card has no YAML metadata block; start the file with '---'", 1)])
    try:
        return ModelCard(text, ignore_metadata_errors=False)
    except (ValueError, yaml.YAMLError) as error:
        raise ValidationError([Problem(str(path), "", f"invalid card metadata: {' '.join(str(error).split())}", 1)]) from None


def zoo_fields(card: ModelCard) -> dict[str, Any]:
    """Return the ``zoo:`` mapping of a card, empty when absent or malformed."""
    value = card.data.to_dict().get(ZOO_KEY)
    return value if isinstance(value, dict) else {}


def card_problems(card: ModelCard, file: str) -> list[Problem]:
    """Return every problem of a card's metadata, with the field path."""
    problems = []
    data = card.data.to_dict()
    if data.get("library_name") != LIBRARY_NAME:
        problems.append(Problem(file, "library_name", f"is {data.get('library_name')!r}; set it to '{LIBRARY_NAME}' "
                                "so the Hub lists the entry under this library"))
    zoo = data.get(ZOO_KEY)
    if not isinstance(zoo, dict):
        problems.append(Problem(file, ZOO_KEY, "is missing or not a mapping; add 'zoo:' with at least 'architecture' and 'task'"))
        return problems
    for name in ("architecture", "task"):
        if name not in zoo:
            problems.append(Problem(file, f"{ZOO_KEY}.{name}", f"is missing; set it to {_ZOO_FIELDS[name][1]}"))
    for name, value in zoo.items():
        if name not in _ZOO_FIELDS:
            continue
        kind, description = _ZOO_FIELDS[name]
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            problems.append(Problem(file, f"{ZOO_KEY}.{name}", f"is {value!r}; it must be {description}"))
    for name, value in (zoo.get("metrics") or {}).items() if isinstance(zoo.get("metrics"), dict) else ():
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            problems.append(Problem(file, f"{ZOO_KEY}.metrics.{name}", f"is {value!r}; metrics must be numbers"))
    return problems


def new_card(*, zoo: dict[str, Any], body: str, pipeline_tag: str | None = None, license: str | None = None,
             datasets: list[str] | None = None, tags: list[str] | None = None, base_model: str | None = None) -> ModelCard:
    """Build a card from typed metadata and a Markdown body."""
    data = ModelCardData(
        library_name=LIBRARY_NAME, pipeline_tag=pipeline_tag, license=license, datasets=datasets,
        tags=sorted(set(["zoo", *(tags or [])])), base_model=base_model, **{ZOO_KEY: zoo},
    )
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n{body.strip()}\n")


def update_zoo_fields(card: ModelCard, **fields: Any) -> None:
    """Merge ``fields`` into the card's ``zoo:`` mapping in place."""
    zoo = dict(zoo_fields(card))
    zoo.update(fields)
    setattr(card.data, ZOO_KEY, zoo)
