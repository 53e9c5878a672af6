"""Reading and writing weights: safetensors only, with hash and format checks."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import torch
from safetensors.torch import load_model, save_model

from zoo_registry import WeightsError

from ._atomic import write_atomic


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
    end = max((info["data_offsets"][1] for key, info in header.items() if key != "__metadata__"), default=0)
    if 8 + header_size + end > size:
        raise WeightsError(
            f"weights file {path} is truncated: the header describes {8 + header_size + end} bytes "
            f"but the file has {size}; download or copy it again"
        )


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


def save_weights(model: torch.nn.Module, path: str | Path) -> str:
    """Write the model's weights atomically as safetensors; return the file's sha256."""
    write_atomic(path, lambda temporary: save_model(model, str(temporary), metadata={"format": "pt"}))
    return sha256_of(path)


def load_weights(model: torch.nn.Module, path: str | Path, expected_sha256: str | None = None) -> None:
    """Check and load safetensors weights into ``model``, strictly."""
    check_safetensors(path)
    verify_hash(path, expected_sha256)
    missing, unexpected = load_model(model, str(path), strict=False)
    if missing or unexpected:
        raise WeightsError(
            f"weights file {path} does not fit the model built from the recipe: "
            f"missing keys {sorted(missing)}, unexpected keys {sorted(unexpected)}. "
            f"Check that recipe.yaml and config.json belong to these weights"
        )
