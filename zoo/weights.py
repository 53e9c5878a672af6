"""Reading and writing weights: safetensors only, with hash and format checks.

torch is imported inside the functions that need it, so the checks here stay
usable from commands that never build a model (``zoo push``, ``zoo pull``).
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from zoo_registry import WeightsError

from ._atomic import write_atomic

if TYPE_CHECKING:
    import torch

WEIGHTS_SUFFIX = ".safetensors"
# File types that hold pickled Python objects (PyTorch, joblib, plain pickle). Loading one can run
# arbitrary code, so zoo never reads them.
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib")


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def describe_content(path: Path) -> str:
    """Say in a few words what a file that is not valid safetensors actually contains."""
    size = path.stat().st_size
    if size == 0:
        return "an empty file"
    head = path.read_bytes()[:200]
    if head.startswith(b"version https://git-lfs"):
        return "a Git LFS pointer (text), not the weights; fetch the real file with 'git lfs pull'"
    if head[:2] == b"PK":
        return "a zip archive (probably a pickled PyTorch checkpoint)"
    if head[:1] == b"\x80":
        return "a Python pickle"
    if all(32 <= b < 127 or b in (9, 10, 13) for b in head):
        return f"text starting with {head[:60].decode(errors='replace')!r}"
    return f"{size} bytes of unknown binary data"


def check_safetensors(path: str | Path) -> None:
    """Raise ``WeightsError`` unless ``path`` is a complete safetensors file."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file {path} is missing")
    size = path.stat().st_size
    with open(path, "rb") as handle:
        prefix = handle.read(8)
        if len(prefix) < 8:
            raise WeightsError(f"weights file {path} is not safetensors: it is {describe_content(path)}")
        (header_size,) = struct.unpack("<Q", prefix)
        if header_size <= 0 or 8 + header_size > size:
            raise WeightsError(f"weights file {path} is not safetensors: it is {describe_content(path)}")
        try:
            header = json.loads(handle.read(header_size))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise WeightsError(f"weights file {path} is not safetensors: it is {describe_content(path)}") from None
    end = _data_end(header)
    if end is None:
        raise WeightsError(f"weights file {path} is not safetensors: its JSON header does not describe tensors "
                           f"(each needs 'dtype', 'shape' and 'data_offsets'); write it with safetensors' save_file")
    if 8 + header_size + end > size:
        raise WeightsError(
            f"weights file {path} is truncated: the header describes {8 + header_size + end} bytes "
            f"but the file has {size}; download or copy it again"
        )


def _data_end(header: object) -> int | None:
    """Return where the last tensor's data ends, or None when ``header`` is not a safetensors header."""
    if not isinstance(header, dict):
        return None
    end = 0
    for key, info in header.items():
        if key == "__metadata__":
            continue
        offsets = info.get("data_offsets") if isinstance(info, dict) else None
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
            return None
        end = max(end, offsets[1])
    return end


def verify_hash(path: str | Path, expected: str | None) -> None:
    """Raise ``WeightsError`` when the file's sha256 differs from ``expected`` (skipped when None)."""
    if expected is None:
        return
    actual = sha256_of(path)
    if actual != expected:
        raise WeightsError(
            f"weights file {path} failed its integrity check: expected sha256 {expected}, got {actual}. "
            f"The file was changed or corrupted; pull or train the entry again"
        )


def is_pickle_file(name: str) -> bool:
    """Return True when a file name has one of the pickle suffixes (``.bin``, ``.pt``, ``.ckpt``, ...)."""
    return name.lower().endswith(PICKLE_SUFFIXES)


def check_entry_weights(folder: str | Path, hashes: Mapping[str, str], *, names: list[str] | None = None) -> None:
    """Check every safetensors file of an entry folder against the sha256 mapping of its card.

    ``names`` lists the files to consider (relative, ``/``-separated); by default every file
    ending in ``.safetensors`` under ``folder``. Each must be complete safetensors, appear in
    ``hashes`` and match its hash, and every file named in ``hashes`` must exist. Raises
    ``WeightsError`` at the first problem, naming the file.
    """
    folder = Path(folder)
    if names is None:
        names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob(f"*{WEIGHTS_SUFFIX}") if p.is_file())
    for name in names:
        check_safetensors(folder / name)
        if name not in hashes:
            raise WeightsError(
                f"weights file {folder / name} has no sha256 in the card (zoo.weights), so it cannot be verified; "
                f"add '{name}: <sha256>' under zoo.weights in {folder / 'README.md'} or remove the file"
            )
        verify_hash(folder / name, hashes[name])
    for name in sorted(set(hashes) - set(names)):
        if not (folder / name).is_file():
            raise WeightsError(
                f"weights file {folder / name} is listed in the card (zoo.weights) but missing; "
                f"copy or download it again, or remove '{name}' from zoo.weights"
            )


def save_weights(model: torch.nn.Module, path: str | Path) -> str:
    """Write the model's weights atomically as safetensors; return the file's sha256."""
    from safetensors.torch import save_model

    write_atomic(path, lambda temporary: save_model(model, str(temporary), metadata={"format": "pt"}))
    return sha256_of(path)


def load_weights(model: torch.nn.Module, path: str | Path, expected_sha256: str | None = None) -> None:
    """Check and load safetensors weights into ``model``, strictly."""
    from safetensors.torch import load_model

    check_safetensors(path)
    verify_hash(path, expected_sha256)
    missing, unexpected = load_model(model, str(path), strict=False)
    if missing or unexpected:
        raise WeightsError(
            f"weights file {path} does not fit the model built from the recipe: "
            f"missing keys {sorted(missing)}, unexpected keys {sorted(unexpected)}. "
            f"Check that recipe.yaml and config.json belong to these weights"
        )
