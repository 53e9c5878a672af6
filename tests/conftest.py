"""Shared fixtures: an isolated store and current folder, and throwaway plugin distributions.

``make_plugin`` writes a real distribution to a temporary folder: a module and
a ``.dist-info`` folder with ``entry_points.txt``, which ``importlib.metadata``
discovers once the folder is on ``sys.path`` (in-process) or ``PYTHONPATH``
(subprocesses). Nothing is mocked: the registry finds it like an installed plugin.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from zoo_registry import get_registry
from zoo_testing import make_plugin

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def zoo_env(tmp_path, monkeypatch):
    """Run with an empty store and an empty project folder; reload plugins afterwards."""
    home = tmp_path / "zoo-home"
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.setenv("ZOO_HOME", str(home))
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("ZOO_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    monkeypatch.delenv("ZOO_PLUGINS", raising=False)
    monkeypatch.chdir(project)
    get_registry(refresh=True)
    yield {"home": home, "project": project}
    get_registry(refresh=True)


@pytest.fixture
def plugin_factory(tmp_path, monkeypatch):
    """Create plugin distributions on ``sys.path`` for in-process registry tests."""
    modules: list[str] = []

    def factory(distribution: str, module: str, code: str, **kwargs) -> Path:
        root = make_plugin(tmp_path / f"site-{distribution}", distribution, module, code, **kwargs)
        monkeypatch.syspath_prepend(str(root))
        sys.modules.pop(module, None)
        modules.append(module)
        return root

    yield factory
    for name in list(sys.modules):
        if name.partition(".")[0] in modules:
            del sys.modules[name]
