"""Peak memory of one call and the memory of a model's weights."""

from __future__ import annotations

import os
from typing import Any, Callable

import torch


def weights_bytes(model: torch.nn.Module) -> int:
    """Return the bytes of the model's parameters and buffers, each shared tensor once."""
    tensors = {id(t): t for t in [*model.parameters(), *model.buffers()]}
    return sum(t.numel() * t.element_size() for t in tensors.values())


def weight_count(model: torch.nn.Module) -> int:
    """Return the number of weights: parameters plus int8 buffers (quantized weights), each tensor once."""
    tensors = {id(t): t for t in [*model.parameters(), *(b for b in model.buffers() if b.dtype == torch.int8)]}
    return sum(t.numel() for t in tensors.values())


def _cpu_peak(call: Callable[[], Any]) -> int | None:
    """Return the peak of bytes allocated by PyTorch's CPU allocator during ``call``, above the level at its start."""
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    # Kineto, the profiler's backend, prints a line to stderr at every start and stop unless its
    # log level is above 5; it reads the variable once, when the first profile starts.
    os.environ.setdefault("KINETO_LOG_LEVEL", "6")
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as profiler:
        call()
    # NOTE: the allocation events (with their sizes) are reachable only through the profiler's
    # kineto results in torch 2.13; profiler.events() attributes allocations to operators and lists frees only.
    results = getattr(profiler.profiler, "kineto_results", None)
    if results is None:
        return None
    events = sorted((e for e in results.events() if e.name() == "[memory]" and e.device_type() == DeviceType.CPU),
                    key=lambda e: e.start_ns())
    level = peak = 0
    for event in events:
        level += event.nbytes()
        peak = max(peak, level)
    return peak


def peak_bytes(call: Callable[[], Any], device: torch.device) -> int | None:
    """Return how many bytes ``call`` allocates at its peak on ``device`` beyond what was allocated before.

    On CUDA this is the allocator's peak statistic; on the CPU the profiler's allocation events.
    Returns None where neither is available (other devices).
    """
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        call()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - before
    if device.type == "cpu":
        return _cpu_peak(call)
    return None
