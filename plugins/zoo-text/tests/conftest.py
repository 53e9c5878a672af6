"""Fixtures of the zoo-text tests: the real Tiny Shakespeare text and an offline, isolated environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHAKESPEARE_FILE = "tinyshakespeare.txt"
# Read once at import: the fixtures below point ZOO_DATA elsewhere during tests.
_ZOO_DATA = os.environ.get("ZOO_DATA")


@pytest.fixture(scope="session")
def shakespeare_path() -> Path:
    """Return the real corpus from ``$ZOO_DATA`` (``./dev`` sets it to the shared data folder)."""
    folder = _ZOO_DATA
    path = Path(folder) / SHAKESPEARE_FILE if folder else None
    if path is None or not path.is_file():
        pytest.fail(f"these tests need the real {SHAKESPEARE_FILE}; set ZOO_DATA to the folder that has it "
                    f"(./dev does), got ZOO_DATA={folder!r}")
    return path


@pytest.fixture(scope="session")
def shakespeare_text(shakespeare_path) -> str:
    return shakespeare_path.read_text(encoding="utf-8")


@pytest.fixture
def offline(tmp_path, monkeypatch) -> dict[str, Path]:
    """Point ZOO_DATA and ZOO_HOME at empty temporary folders and forbid downloads."""
    data, home = tmp_path / "data", tmp_path / "home"
    data.mkdir()
    monkeypatch.setenv("ZOO_DATA", str(data))
    monkeypatch.setenv("ZOO_HOME", str(home))
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return {"data": data, "home": home}


@pytest.fixture
def shakespeare_env(offline, shakespeare_path, monkeypatch) -> dict[str, Path]:
    """Offline environment whose ZOO_DATA is the folder with the real corpus."""
    monkeypatch.setenv("ZOO_DATA", str(shakespeare_path.parent))
    return {**offline, "data": shakespeare_path.parent}
