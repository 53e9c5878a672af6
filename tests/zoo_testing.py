"""Helpers for zoo's tests: throwaway plugin distributions and running the CLI in a subprocess.

``make_plugin`` writes a real distribution to a folder: a module and a
``.dist-info`` folder with ``entry_points.txt``, which ``importlib.metadata``
discovers once the folder is on ``sys.path`` or ``PYTHONPATH``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def make_plugin(root: Path, distribution: str, module: str, code: str, *, entry_point: str | None = None,
                files: dict[str, str] | None = None) -> Path:
    """Write distribution ``distribution`` with module ``module`` under ``root``; return ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    package = root / module
    package.mkdir(exist_ok=True)
    (package / "__init__.py").write_text(textwrap.dedent(code))
    for name, text in (files or {}).items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    info = root / f"{distribution.replace('-', '_')}-0.1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(f"[zoo]\n{entry_point or distribution} = {module}\n")
    return root


def run_zoo(*args: str, paths: list[Path] = (), env: dict[str, str] | None = None,
            cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``python -m zoo`` in a subprocess with extra folders on PYTHONPATH."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    if paths:
        full_env["PYTHONPATH"] = os.pathsep.join([*(str(p) for p in paths), full_env.get("PYTHONPATH", "")])
    full_env.setdefault("COLUMNS", "200")
    return subprocess.run([sys.executable, "-m", "zoo", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd, timeout=timeout)
