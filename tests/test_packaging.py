"""Packaging and install paths: metadata commands stay torch-free, a pip-installed third-party plugin
appears and disappears, and wheels work outside the source tree."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import venv
from pathlib import Path

import pytest

from zoo_testing import REPO, run_zoo

HEAVY = ("torch", "accelerate", "transformers")


@pytest.mark.parametrize("command", [["list"], ["plugins"], ["list", "--json"], ["validate", "cards/char-gpt"]])
def test_metadata_commands_do_not_import_torch(command):
    code = textwrap.dedent(f"""
        import sys
        from zoo.cli import main
        status = main({command!r})
        heavy = sorted(m for m in {HEAVY!r} if m in sys.modules)
        print("HEAVY=" + ",".join(heavy))
        sys.exit(status)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    if command[0] == "validate" and not (REPO / "cards" / "char-gpt").is_dir():
        pytest.skip("cards/char-gpt is not in this checkout")
    assert result.returncode == 0, result.stderr
    assert "HEAVY=\n" in result.stdout, result.stdout


def _pip(*args: str, python: str = sys.executable) -> subprocess.CompletedProcess:
    return subprocess.run([python, "-m", "pip", "--disable-pip-version-check", *args],
                          capture_output=True, text=True, timeout=600)


def test_third_party_plugin_install_and_uninstall(tmp_path):
    source = tmp_path / "zoo-acme"
    package = source / "zoo_acme"
    (package / "cards" / "acme-tiny").mkdir(parents=True)
    (source / "pyproject.toml").write_text(textwrap.dedent("""
        [build-system]
        requires = ["setuptools>=68"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "zoo-acme-test-plugin"
        version = "0.3.0"
        dependencies = ["zoo-registry"]

        [project.entry-points.zoo]
        acme = "zoo_acme"

        [tool.setuptools]
        packages = ["zoo_acme"]

        [tool.setuptools.package-data]
        zoo_acme = ["cards/*/*"]
    """))
    (package / "__init__.py").write_text(textwrap.dedent("""
        from importlib.resources import files
        from zoo_registry import ComponentSpec, hookimpl

        @hookimpl
        def zoo_components():
            return [ComponentSpec(name="acme-net", kind="architecture", target="zoo_acme.model:build",
                                  task="text-generation", summary="The ACME test network.")]

        @hookimpl
        def zoo_entry_dirs():
            return [str(files("zoo_acme") / "cards")]
    """))
    (package / "cards" / "acme-tiny" / "README.md").write_text(
        "---\nlibrary_name: zoo\nzoo:\n  architecture: acme-net\n  task: text-generation\n  parameters: 42\n---\n\n# ACME tiny\n")
    (package / "cards" / "acme-tiny" / "recipe.yaml").write_text("model:\n  architecture: acme-net\n")

    installed = _pip("install", "--no-deps", "--no-build-isolation", "--quiet", str(source))
    assert installed.returncode == 0, installed.stderr
    try:
        listing = run_zoo("list", "--json", cwd=tmp_path)
        assert listing.returncode == 0, listing.stderr
        data = json.loads(listing.stdout)
        entry = next(e for e in data["entries"] if e["name"] == "acme-tiny")
        assert entry["architecture"] == "acme-net"
        assert entry["parameters"] == 42
        assert entry["source"] == "plugin zoo-acme-test-plugin"
        component = next(c for c in data["components"] if c["name"] == "acme-net")
        assert component["distribution"] == "zoo-acme-test-plugin"
        plugins = run_zoo("plugins", cwd=tmp_path)
        assert "zoo-acme-test-plugin" in plugins.stdout
        assert "architecture acme-net" in plugins.stdout
    finally:
        removed = _pip("uninstall", "--yes", "--quiet", "zoo-acme-test-plugin")
    assert removed.returncode == 0, removed.stderr
    after = json.loads(run_zoo("list", "--json", cwd=tmp_path).stdout)
    assert all(e["name"] != "acme-tiny" for e in after["entries"])
    assert all(c["name"] != "acme-net" for c in after["components"])
    assert "zoo-acme-test-plugin" not in run_zoo("plugins", cwd=tmp_path).stdout


@pytest.mark.slow
def test_wheels_install_outside_source_tree(tmp_path):
    wheels = tmp_path / "wheels"
    for project in (REPO / "registry", REPO):
        built = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(wheels),
                                str(project)], capture_output=True, text=True, timeout=600)
        assert built.returncode == 0, built.stderr[-2000:]
    environment = tmp_path / "env"
    venv.create(environment, with_pip=True)
    python = str(environment / "bin" / "python")
    # torch comes from the constraints pin; --no-index keeps the install offline apart from the
    # packages already present on this machine's configured indexes.
    installed = _pip("install", "--quiet", "-c", str(REPO / "constraints.txt"),
                     *(str(w) for w in sorted(wheels.glob("*.whl"))), python=python)
    assert installed.returncode == 0, installed.stderr[-3000:]
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(ZOO_HOME=str(tmp_path / "home"), COLUMNS="200")
    result = subprocess.run([str(environment / "bin" / "zoo"), "list", "--json"], capture_output=True, text=True,
                            cwd=work, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    names = {e["name"] for e in json.loads(result.stdout)["entries"]}
    shipped = {p.name for p in (REPO / "cards").iterdir() if (p / "README.md").is_file()}
    assert shipped, "the repository ships no cards"
    assert shipped <= names
    sources = {e["source"] for e in json.loads(result.stdout)["entries"]}
    assert sources == {"plugin zoo"}
    assert str(REPO) not in result.stdout
