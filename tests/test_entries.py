"""Entries: the search path order, cards read through huggingface_hub, and card checks."""

from __future__ import annotations

import pytest

from zoo_registry import (EntryNotFoundError, ValidationError, card_problems, find_entries, get_registry, new_card,
                          read_card, resolve_entry)

from zoo_testing import run_zoo

CARD = """---
library_name: zoo
pipeline_tag: text-generation
license: mit
tags: [zoo]
zoo:
  architecture: gpt
  task: text-generation
  parameters: 1234
---

# {title}
"""


def make_entry(folder, title="An entry", recipe="model: {}\n"):
    folder.mkdir(parents=True)
    (folder / "README.md").write_text(CARD.format(title=title))
    (folder / "recipe.yaml").write_text(recipe)
    return folder


def test_search_order_project_plugin_store(zoo_env, plugin_factory, tmp_path):
    shipped = tmp_path / "shipped"
    make_entry(shipped / "shared", "from the plugin")
    make_entry(shipped / "plugin-only", "plugin only")
    plugin_factory("zoo-cards", "zoo_cards_test", f"""
        from zoo_registry import hookimpl

        @hookimpl
        def zoo_entry_dirs():
            return [{str(shipped)!r}]
    """)
    make_entry(zoo_env["project"] / "cards" / "shared", "from the project")
    make_entry(zoo_env["home"] / "entries" / "shared" / "v1", "from the store")
    make_entry(zoo_env["home"] / "entries" / "store-only" / "v1", "store v1")
    make_entry(zoo_env["home"] / "entries" / "store-only" / "v2", "store v2")

    registry = get_registry(refresh=True)
    entries = {e.name: e for e in find_entries(registry)}
    shared = entries["shared"]
    assert shared.source == "project"
    assert [s.source for s in shared.shadows] == ["plugin zoo-cards", "store"]
    assert entries["plugin-only"].source == "plugin zoo-cards"
    assert entries["store-only"].version == "v2"
    assert resolve_entry(registry, "store-only@v1").card.text.strip() == "# store v1"

    info = run_zoo("info", "shared", paths=[tmp_path / "site-zoo-cards"], cwd=zoo_env["project"])
    assert info.returncode == 0, info.stderr
    assert f"shared  from project: {zoo_env['project'] / 'cards' / 'shared'}" in info.stdout
    assert f"hides shared from plugin zoo-cards: {shipped / 'shared'}" in info.stdout
    assert f"hides shared from store: {zoo_env['home'] / 'entries' / 'shared' / 'v1'}" in info.stdout


def test_resolve_unknown_entry_suggests(zoo_env, monkeypatch):
    monkeypatch.setenv("ZOO_DISABLE_PLUGIN_AUTOLOAD", "1")  # no shipped entries to suggest
    make_entry(zoo_env["project"] / "cards" / "char-gpt-mini")
    with pytest.raises(EntryNotFoundError) as caught:
        resolve_entry(get_registry(refresh=True), "char-gpt-mni")
    assert str(caught.value) == "no entry named 'char-gpt-mni'. Did you mean 'char-gpt-mini'? Run 'zoo list' to see the entries."


def test_resolve_unknown_store_version(zoo_env):
    make_entry(zoo_env["home"] / "entries" / "model" / "v1")
    with pytest.raises(EntryNotFoundError) as caught:
        resolve_entry(get_registry(), "model@v7")
    assert str(caught.value) == (
        f"entry 'model' has no store version 'v7'; versions in {zoo_env['home'] / 'entries' / 'model'}: v1"
    )


def test_half_written_store_version_is_invisible(zoo_env):
    make_entry(zoo_env["home"] / "entries" / "model" / "v1")
    make_entry(zoo_env["home"] / "entries" / "model" / ".tmp-abc123")
    entry = resolve_entry(get_registry(), "model")
    assert entry.version == "v1"


def test_card_written_and_read_through_hub_types(tmp_path):
    card = new_card(zoo={"architecture": "gpt", "task": "text-generation", "parameters": 10},
                    body="# Title\n\nProse.", pipeline_tag="text-generation", license="mit", datasets=["tiny-shakespeare"])
    path = tmp_path / "README.md"
    path.write_text(str(card))
    again = read_card(path)
    data = again.data.to_dict()
    assert data["library_name"] == "zoo"
    assert data["zoo"] == {"architecture": "gpt", "task": "text-generation", "parameters": 10}
    assert data["datasets"] == ["tiny-shakespeare"]
    assert card_problems(again, str(path)) == []


def test_card_problems_listed(tmp_path):
    path = tmp_path / "README.md"
    path.write_text("---\nlibrary_name: transformers\nzoo:\n  task: text-generation\n  parameters: many\n"
                    "  metrics: {val_loss: low}\n---\n\nbody\n")
    problems = [str(p) for p in card_problems(read_card(path), str(path))]
    assert problems == [
        f"{path}: library_name: is 'transformers'; set it to 'zoo' so the Hub lists the entry under this library",
        f"{path}: zoo.architecture: is missing; set it to the architecture name, e.g. gpt",
        f"{path}: zoo.parameters: is 'many'; it must be the parameter count as an integer",
        f"{path}: zoo.metrics.val_loss: is 'low'; metrics must be numbers",
    ]


@pytest.mark.parametrize("text, message", [
    ("# no metadata\n", "1: the card has no YAML metadata block; start the file with '---'"),
    ("---\nlicense: [unclosed\n---\nbody\n", "1: invalid card metadata:"),
])
def test_card_unreadable(tmp_path, text, message):
    path = tmp_path / "README.md"
    path.write_text(text)
    with pytest.raises(ValidationError) as caught:
        read_card(path)
    assert str(caught.value.problems[0]).startswith(f"{path}:{message}")


def test_validate_command_exit_codes(zoo_env):
    folder = make_entry(zoo_env["project"] / "cards" / "broken", recipe="model:\n  architecture: nope\n")
    result = run_zoo("validate", str(folder), cwd=zoo_env["project"])
    assert result.returncode == 1
    assert f"{folder / 'recipe.yaml'}:2: model.architecture: unknown architecture 'nope'." in result.stderr
    assert f"{folder / 'recipe.yaml'}:1: data: section is missing" in result.stderr
    missing = run_zoo("validate", str(zoo_env["project"] / "nothing-here"), cwd=zoo_env["project"])
    assert missing.returncode == 1
    assert "no such file or folder; pass an entry folder, a recipe.yaml or a README.md" in missing.stderr
