"""``zoo info`` and ``zoo validate``: one entry's card, and checks of cards and recipes."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markdown import Markdown

from zoo_registry import (CARD_FILE, RECIPE_FILE, Problem, ValidationError, card_problems, get_registry,
                          load_recipe, read_card, resolve_entry, store_versions)

from ._app import app
from ._output import console, format_count, print_json, print_table


@app.command("info")
def info_command(
    name: str = typer.Argument(..., help="Entry name, name@version, or a path to an entry folder."),
    versions: bool = typer.Option(False, "--versions", help="List the store versions of the entry."),
    as_json: bool = typer.Option(False, "--json", help="Print the card metadata as JSON."),
) -> None:
    """Show an entry's card, where it was found, and which other entries of that name it hides.

    Examples:

        zoo info char-gpt

        zoo info char-gpt --versions
    """
    entry = resolve_entry(get_registry(), name)
    if versions:
        found = store_versions(entry.name)
        if as_json:
            print_json({"name": entry.name, "versions": found})
        else:
            print_table(f"Store versions of {entry.name}", ["version"], [[v] for v in found],
                        empty=f"{entry.name} has no versions in the store.")
        return
    if as_json:
        print_json({"name": entry.label, "path": str(entry.path), "source": entry.source,
                    "shadowed": [{"source": s.source, "path": str(s.path)} for s in entry.shadows],
                    "metadata": entry.card.data.to_dict() if entry.card else None,
                    "card_error": entry.card_error})
        return
    out = console()
    out.print(f"[bold]{entry.label}[/]  from {entry.source}: {entry.path}")
    for hidden in entry.shadows:
        out.print(f"  hides {entry.name} from {hidden.source}: {hidden.path}")
    if entry.card_error:
        out.print(f"[red]invalid card:[/] {entry.card_error}")
        return
    zoo = entry.zoo
    rows = [["architecture", zoo.get("architecture", "-")], ["task", zoo.get("task", "-")],
            ["parameters", format_count(zoo.get("parameters"))], ["weights", "yes" if entry.has_weights else "no"]]
    rows += [[f"metric {k}", v] for k, v in (zoo.get("metrics") or {}).items()]
    if zoo.get("base"):
        rows.append(["base", zoo["base"]])
    print_table(None, ["field", "value"], rows)
    out.print()
    out.print(Markdown(entry.card.text))


def _check_entry(folder: Path) -> list[Problem]:
    problems: list[Problem] = []
    card_path, recipe_path = folder / CARD_FILE, folder / RECIPE_FILE
    try:
        problems += card_problems(read_card(card_path), str(card_path))
    except ValidationError as error:
        problems += error.problems
    if recipe_path.is_file():
        problems += _check_recipe(recipe_path)
    else:
        problems.append(Problem(str(recipe_path), "", "the recipe is missing; every entry needs a recipe.yaml"))
    return problems


def _check_recipe(path: Path) -> list[Problem]:
    try:
        load_recipe(path, get_registry())
    except ValidationError as error:
        return error.problems
    return []


@app.command("validate")
def validate_command(
    path: Path = typer.Argument(..., help="An entry folder, a recipe.yaml or a README.md card."),
) -> None:
    """Check a card and recipe and report every problem with file, field and line; exit 1 on problems.

    Examples:

        zoo validate cards/char-gpt

        zoo validate my-recipe.yaml
    """
    if path.is_dir():
        problems = _check_entry(path)
    elif path.name == CARD_FILE or path.suffix == ".md":
        try:
            problems = card_problems(read_card(path), str(path))
        except ValidationError as error:
            problems = error.problems
    elif path.is_file():
        problems = _check_recipe(path)
    else:
        raise ValidationError([Problem(str(path), "", "no such file or folder; pass an entry folder, a recipe.yaml or a README.md")])
    if problems:
        raise ValidationError(problems)
    console().print(f"{path}: valid")
