"""Helpers for the sharing tests: small real entry folders and the environment of a second machine.

A "machine" here is a ZOO_HOME, an HF_HOME (the Hugging Face cache) and a current folder of its
own, all under the test's temporary folder, talking to the Hub stand-in of ``hub_server``.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import torch
from safetensors.torch import save

from zoo_testing import run_zoo

TOKEN = "hf_zooTestToken5e1d4c0b9a8f"

CARD = """---
library_name: zoo
license: mit
pipeline_tag: text-generation
tags: [zoo]
zoo:
  architecture: gpt
  task: text-generation
  parameters: 12
  weights:
    model.safetensors: {sha256}
  plugins:
{plugins}
---

# Shared test entry

A small entry folder used by the sharing tests.
"""

RECIPE = "model: {architecture: gpt}\ndata: {dataset: tiny-shakespeare}\ntrain: {trainer: causal-lm}\n"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def weights_bytes(seed: int = 0) -> bytes:
    """Return the bytes of a real safetensors file with two small tensors."""
    generator = torch.Generator().manual_seed(seed)
    return save({"w": torch.randn(3, 3, generator=generator), "b": torch.zeros(3)})


def card_text(weights: bytes | str, plugins: dict[str, str] | None = None) -> str:
    digest = weights if isinstance(weights, str) else sha256(weights)
    plugins = plugins if plugins is not None else {"zoo-text": "0.1.0"}
    lines = "\n".join(f"    {name}: {version}" for name, version in plugins.items()) or "    {}"
    return CARD.format(sha256=digest, plugins=lines)


def entry_files(seed: int = 0, plugins: dict[str, str] | None = None) -> dict[str, bytes]:
    """Return the files of a complete entry: card with the weights' sha256, recipe, config, weights."""
    weights = weights_bytes(seed)
    return {
        "README.md": card_text(weights, plugins).encode(),
        "recipe.yaml": RECIPE.encode(),
        "config.json": json.dumps({"architecture": "gpt", "info": {"vocab_size": 65}}).encode(),
        "model.safetensors": weights,
    }


def write_entry(folder: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return folder


class _Opens:
    """Unpickling this object creates ``path``: proof that a pickle was loaded."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def pickle_bytes(marker: Path) -> bytes:
    """Return a pickle whose loading creates the file ``marker``."""
    return pickle.dumps({"state_dict": _Opens(marker)})


def machine(tmp_path: Path, name: str, hub_url: str | None = None, **extra: str) -> dict:
    """Create the folders of one simulated machine; return its environment and current folder."""
    root = tmp_path / name
    (root / "project").mkdir(parents=True, exist_ok=True)
    env = {
        "ZOO_HOME": str(root / "zoo-home"),
        "HF_HOME": str(root / "hf-home"),
        "HF_HUB_OFFLINE": "0",
        "HF_HUB_DISABLE_XET": "1",  # the stand-in speaks Git LFS, not Xet
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    }
    if hub_url is not None:
        env["HF_ENDPOINT"] = hub_url
    env.update(extra)
    return {"root": root, "env": env, "cwd": root / "project", "home": root / "zoo-home",
            "hf_cache": root / "hf-home" / "hub"}


def zoo_on(box: dict, *args: str, **env: str):
    """Run ``zoo`` on a simulated machine, with extra environment variables."""
    return run_zoo(*args, cwd=box["cwd"], env={**box["env"], **env})


def flat(text: str) -> str:
    """Join wrapped lines so messages can be compared whole."""
    return " ".join(text.split())


def files_containing(root: Path, needle: bytes, skip: set[Path] = frozenset()) -> list[Path]:
    """Return every file under ``root`` whose bytes contain ``needle``."""
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink() and path not in skip and needle in path.read_bytes():
            found.append(path)
    return found
