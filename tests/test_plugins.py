"""Plugin discovery: broken plugins, conflicts, qualified names, suggestions and autoload switches."""

from __future__ import annotations

import json

import pytest

from zoo_registry import ComponentConflictError, UnknownComponentError, get_registry

from zoo_testing import make_plugin, run_zoo

GOOD = """
from zoo_registry import ComponentSpec, hookimpl

@hookimpl
def zoo_components():
    return [
        ComponentSpec(name="{name}", kind="architecture", target="{module}.impl:build",
                      task="text-generation", summary="A test architecture."),
        ComponentSpec(name="{module}-only", kind="dataset", target="{module}.impl:Data", summary="Test data."),
    ]
"""


def good_plugin(name: str, module: str) -> str:
    return GOOD.format(name=name, module=module)


def plugin_named(registry, name):
    return next(p for p in registry.plugins if p.name == name)


def test_plugin_import_error_is_reported(zoo_env, plugin_factory):
    plugin_factory("zoo-broken", "zoo_broken", "raise ImportError('needs a package that is missing')")
    plugin_factory("zoo-good", "zoo_good", good_plugin("good-arch", "zoo_good"))
    registry = get_registry(refresh=True)
    broken = plugin_named(registry, "zoo-broken")
    assert not broken.ok
    assert broken.distribution == "zoo-broken"
    assert broken.error == "import of 'zoo_broken' failed: ImportError: needs a package that is missing"
    assert registry.resolve("architecture", "good-arch").plugin.distribution == "zoo-good"


def test_plugin_hook_raising_is_reported(zoo_env, plugin_factory):
    plugin_factory("zoo-raises", "zoo_raises", """
        from zoo_registry import hookimpl

        @hookimpl
        def zoo_components():
            raise RuntimeError("declaration failed")
    """)
    plugin_factory("zoo-good", "zoo_good", good_plugin("good-arch", "zoo_good"))
    registry = get_registry(refresh=True)
    raising = plugin_named(registry, "zoo-raises")
    assert raising.error == "hook raised RuntimeError: declaration failed"
    assert registry.resolve("architecture", "good-arch").plugin.distribution == "zoo-good"


@pytest.mark.parametrize("body, expected", [
    ("return {'name': 'x'}", "malformed declarations: zoo_components returned dict, expected a list of ComponentSpec"),
    ("return ['gpt']", "malformed declarations: zoo_components returned 'gpt', expected a ComponentSpec"),
    ("return [ComponentSpec(name='x', kind='model', target='a:b')]",
     "malformed declarations: component 'x': kind 'model' is invalid: use one of architecture, trainer, compressor, dataset"),
    ("return [ComponentSpec(name='Bad Name', kind='dataset', target='a:b')]",
     "malformed declarations: component 'Bad Name': name 'Bad Name' is invalid: use lowercase letters, digits, '.', '-' or '_'"),
    ("return [ComponentSpec(name='x', kind='dataset', target='no_colon')]",
     "malformed declarations: component 'x': target 'no_colon' is not an import path of the form 'module:attribute'"),
])
def test_plugin_malformed_declarations(zoo_env, plugin_factory, body, expected):
    plugin_factory("zoo-malformed", "zoo_malformed", f"""
        from zoo_registry import ComponentSpec, hookimpl

        @hookimpl
        def zoo_components():
            {body}
    """)
    registry = get_registry(refresh=True)
    malformed = plugin_named(registry, "zoo-malformed")
    assert malformed.error == expected
    assert malformed.components == []


def test_plugin_bad_hook_signature(zoo_env, plugin_factory):
    plugin_factory("zoo-signature", "zoo_signature", """
        from zoo_registry import hookimpl

        @hookimpl
        def zoo_components(unexpected_argument):
            return []
    """)
    error = plugin_named(get_registry(refresh=True), "zoo-signature").error
    assert error.startswith("registration failed: PluginValidationError")
    assert "unexpected_argument" in error


def test_plugin_missing_entry_folder(zoo_env, plugin_factory, tmp_path):
    plugin_factory("zoo-folders", "zoo_folders", f"""
        from zoo_registry import hookimpl

        @hookimpl
        def zoo_entry_dirs():
            return [{str(tmp_path / 'missing')!r}]
    """)
    error = plugin_named(get_registry(refresh=True), "zoo-folders").error
    assert error == f"malformed declarations: entry folder {str(tmp_path / 'missing')!r} does not exist"


def test_conflict_names_both_distributions(zoo_env, plugin_factory):
    plugin_factory("zoo-first", "zoo_first", good_plugin("shared", "zoo_first"))
    plugin_factory("zoo-second", "zoo_second", good_plugin("shared", "zoo_second"))
    plugin_factory("zoo-third", "zoo_third", good_plugin("unrelated", "zoo_third"))
    registry = get_registry(refresh=True)
    with pytest.raises(ComponentConflictError) as caught:
        registry.resolve("architecture", "shared")
    assert str(caught.value) == (
        "architecture 'shared' is declared by more than one plugin: zoo-first (as 'zoo-first:shared'), "
        "zoo-second (as 'zoo-second:shared'). Use the qualified name to pick one, or uninstall one of the distributions."
    )
    assert registry.resolve("architecture", "zoo-first:shared").plugin.distribution == "zoo-first"
    assert registry.resolve("architecture", "zoo-second:shared").plugin.distribution == "zoo-second"
    assert registry.resolve("dataset", "zoo_first-only").plugin.distribution == "zoo-first"
    assert registry.resolve("architecture", "unrelated").plugin.distribution == "zoo-third"
    assert list(registry.conflicts()) == [("architecture", "shared")]


def test_unknown_name_suggests_close_match(zoo_env, plugin_factory):
    plugin_factory("zoo-good", "zoo_good", good_plugin("transformer", "zoo_good"))
    registry = get_registry(refresh=True)
    with pytest.raises(UnknownComponentError) as caught:
        registry.resolve("architecture", "transfromer")
    message = str(caught.value)
    assert message.startswith("unknown architecture 'transfromer'. Did you mean 'transformer'?")
    assert message.endswith("Run 'zoo plugins' to see what is installed.")


def test_qualified_name_with_unknown_plugin(zoo_env, plugin_factory):
    plugin_factory("zoo-good", "zoo_good", good_plugin("transformer", "zoo_good"))
    with pytest.raises(UnknownComponentError, match="unknown architecture 'zoo-nope:transformer'. Did you mean 'transformer'"):
        get_registry(refresh=True).resolve("architecture", "zoo-nope:transformer")


def test_autoload_disabled_loads_only_listed(zoo_env, monkeypatch):
    monkeypatch.setenv("ZOO_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("ZOO_PLUGINS", "zoo-text")
    registry = get_registry(refresh=True)
    assert [p.name for p in registry.plugins] == ["zoo-text"]
    monkeypatch.setenv("ZOO_PLUGINS", "")
    assert get_registry(refresh=True).plugins == []


def test_cli_survives_broken_plugin(zoo_env, tmp_path):
    site = make_plugin(tmp_path / "site", "zoo-broken", "zoo_broken", "raise ImportError('no such thing')")
    listing = run_zoo("list", paths=[site])
    assert listing.returncode == 0, listing.stderr
    assert "1 plugin(s) failed to load: zoo-broken. Run 'zoo plugins' for the errors." in listing.stdout
    plugins = run_zoo("plugins", "--json", paths=[site])
    assert plugins.returncode == 0, plugins.stderr
    record = next(p for p in json.loads(plugins.stdout)["plugins"] if p["name"] == "zoo-broken")
    assert record["distribution"] == "zoo-broken"
    assert record["error"] == "import of 'zoo_broken' failed: ImportError: no such thing"
    table = run_zoo("plugins", paths=[site])
    assert "import of 'zoo_broken' failed: ImportError: no such thing" in table.stdout
