"""Checkpoints of a run, written without pickle and replaced atomically.

A checkpoint is a folder ``checkpoint/`` in the run folder:

- ``model.safetensors``: the unwrapped model's weights,
- ``optimizer.safetensors`` + the ``optimizer`` key of ``state.json``: AdamW
  state tensors and its scalar settings,
- ``rng-<rank>.safetensors``: each process's torch RNG state,
- ``state.json``: step, recipe hash, elapsed time and the metrics so far.

It is written into a temporary folder that replaces the previous checkpoint
by rename, so a run killed at any moment leaves a complete checkpoint.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, load_model, save_file, save_model

from zoo_registry import ZooError

CHECKPOINT = "checkpoint"
_PREVIOUS = "checkpoint.previous"


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {}
    for index, values in state["state"].items():
        for key, value in values.items():
            if torch.is_tensor(value):
                tensors[f"{index}.{key}"] = value.detach().contiguous().cpu()
            else:
                scalars[f"{index}.{key}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _restore_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], saved: dict[str, Any]) -> None:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        index, _, key = name.partition(".")
        state.setdefault(int(index), {})[key] = value
    for name, value in saved["scalars"].items():
        index, _, key = name.partition(".")
        state.setdefault(int(index), {})[key] = value
    groups = saved["param_groups"]
    for group in groups:
        if isinstance(group.get("betas"), list):
            group["betas"] = tuple(group["betas"])
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def save_checkpoint(run_dir: Path, accelerator, model: torch.nn.Module, optimizer, state: dict[str, Any]) -> Path:
    """Write a checkpoint of every process and make it the run's current one; return its folder."""
    temporary = run_dir / f".{CHECKPOINT}-{state['step']}.tmp"
    if accelerator.is_main_process:
        shutil.rmtree(temporary, ignore_errors=True)
        temporary.mkdir(parents=True)
    accelerator.wait_for_everyone()

    rng = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state()
    save_file(rng, str(temporary / f"rng-{accelerator.process_index}.safetensors"))
    if accelerator.is_main_process:
        save_model(accelerator.unwrap_model(model), str(temporary / "model.safetensors"))
        tensors, optimizer_meta = _optimizer_tensors(optimizer)
        save_file(tensors, str(temporary / "optimizer.safetensors"))
        payload = dict(state, optimizer=optimizer_meta, world_size=accelerator.num_processes)
        (temporary / "state.json").write_text(json.dumps(payload), encoding="utf-8")
    accelerator.wait_for_everyone()

    current, previous = run_dir / CHECKPOINT, run_dir / _PREVIOUS
    if accelerator.is_main_process:
        shutil.rmtree(previous, ignore_errors=True)
        if current.exists():
            current.rename(previous)
        temporary.rename(current)
        shutil.rmtree(previous, ignore_errors=True)
    accelerator.wait_for_everyone()
    return current


def find_checkpoint(run_dir: Path) -> Path | None:
    """Return the run's latest complete checkpoint folder, or None."""
    for name in (CHECKPOINT, _PREVIOUS):
        folder = run_dir / name
        if (folder / "state.json").is_file():
            return folder
    return None


def load_checkpoint(folder: Path, accelerator, model: torch.nn.Module, optimizer) -> dict[str, Any]:
    """Restore model, optimizer and this process's RNG from a checkpoint; return its state."""
    state = json.loads((folder / "state.json").read_text(encoding="utf-8"))
    if state.get("world_size", 1) != accelerator.num_processes:
        raise ZooError(
            f"the checkpoint in {folder} was written by {state.get('world_size')} process(es) but this run has "
            f"{accelerator.num_processes}; resume with the same number of processes"
        )
    load_model(accelerator.unwrap_model(model), str(folder / "model.safetensors"))
    _restore_optimizer(optimizer, load_file(str(folder / "optimizer.safetensors")), state.pop("optimizer"))
    rng = load_file(str(folder / f"rng-{accelerator.process_index}.safetensors"))
    torch.set_rng_state(rng["cpu"])
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state(rng["cuda"])
    return state
