"""``zoo bench``: time every variant of an entry's model on the same inputs, round by round.

Each round runs every probe once per variant, alternating between variants,
so a load change on a shared machine hits every variant alike. The probes are
the forward pass at batch 1 and at the larger batch and, for language models,
generation of one token (prefill) and of more tokens (prefill and decode).
Warm-up rounds run first and are not recorded; they also trigger
torch.compile's compilation.
"""

from __future__ import annotations

import os
import platform
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from zoo_registry import Entry, ZooError

from .._compile import quiet_compiler
from ..runner import load_entry
from ._inputs import example_inputs
from ._memory import peak_bytes, weight_count, weights_bytes
from ._stats import Summary
from ._variants import VARIANTS, Variant, build_variants, compile_failure


@dataclass
class BenchSettings:
    """Settings of one ``zoo bench`` run, one field per CLI option."""

    device: str = "cpu"
    batch_size: int = 8
    repeats: int = 10
    warmup: int = 2
    variants: tuple[str, ...] = VARIANTS
    prompt_tokens: int | None = None
    new_tokens: int | None = None
    threads: int | None = None


@dataclass
class VariantResult:
    """The measurements of one variant, or why it did not run."""

    name: str
    reason: str | None = None
    metrics: dict[str, Summary] = field(default_factory=dict)
    peak_memory_bytes: int | None = None
    weights_bytes: int | None = None
    weights: int | None = None

    @property
    def available(self) -> bool:
        return self.reason is None


@dataclass
class BenchResult:
    """Everything ``zoo bench`` measured for one entry, with the conditions of the measurement."""

    entry: str
    device: str
    hardware: str
    threads: int
    torch: str
    batch_size: int
    repeats: int
    warmup: int
    unit: str
    language_model: bool
    prompt_tokens: int | None
    new_tokens: int | None
    file_bytes: int
    variants: list[VariantResult]
    notices: list[str] = field(default_factory=list)


def _device(name: str) -> torch.device:
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ZooError(f"--device {name!r} is not a device; use cpu, cuda, cuda:1 or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ZooError(f"--device {name}: CUDA is not available on this machine; use --device cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ZooError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA devices "
                       f"(cuda:0 to cuda:{torch.cuda.device_count() - 1})")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ZooError(f"--device {name}: MPS is not available on this machine; use --device cpu")
    if device.type not in ("cpu", "cuda", "mps"):
        raise ZooError(f"--device {name}: zoo bench runs on cpu, cuda and mps devices")
    return device


def _hardware(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "cpu":
        capability = torch.backends.cpu.get_cpu_capability()
        return f"CPU {platform.machine()} ({capability}), {os.cpu_count()} cores"
    return device.type


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _timed(call: Callable[[], Any], device: torch.device) -> float:
    _synchronize(device)
    start = time.perf_counter()
    call()
    _synchronize(device)
    return time.perf_counter() - start


def _generation_lengths(settings: BenchSettings, block_size: int | None, tokens: int) -> tuple[int, int]:
    """Return (prompt tokens, new tokens): by default half the context each, so the KV cache never slides."""
    context = block_size or tokens
    prompt = settings.prompt_tokens or max(1, min(tokens, context // 2))
    new = settings.new_tokens or max(1, context - prompt)
    if prompt > tokens:
        raise ZooError(f"--prompt-tokens {prompt} is longer than the {tokens}-token examples of the entry's data; "
                       f"use at most {tokens}")
    return prompt, new


def _probes(variant: Variant, inputs: torch.Tensor, batch_size: int, prompt: int | None,
            new: int | None) -> dict[str, Callable[[], Any]]:
    """Return the calls to time for one variant, by name."""
    model = variant.model
    single, batch = variant.inputs(inputs[:1]), variant.inputs(inputs)
    probes: dict[str, Callable[[], Any]] = {"forward_1": lambda: model(single), "forward_b": lambda: model(batch)}
    if prompt is not None:
        prompt_1, prompt_b = single[:, :prompt], batch[:, :prompt]
        probes["prefill_1"] = lambda: model.generate(prompt_1, 1, temperature=0)
        probes["generate_1"] = lambda: model.generate(prompt_1, 1 + new, temperature=0)
        probes["prefill_b"] = lambda: model.generate(prompt_b, 1, temperature=0)
        probes["generate_b"] = lambda: model.generate(prompt_b, 1 + new, temperature=0)
    return probes


def _metrics(times: dict[str, list[float]], batch_size: int, units: int, unit: str, prompt: int | None,
             new: int | None) -> dict[str, Summary]:
    """Turn the seconds of every probe into latencies and rates."""
    metrics = {
        "latency_batch_1_ms": Summary.of(times["forward_1"]).scaled(1000),
        f"latency_batch_{batch_size}_ms": Summary.of(times["forward_b"]).scaled(1000),
        f"forward_{unit}_per_s": Summary.of([units / t for t in times["forward_b"]]),
    }
    if prompt is not None:
        for label, size, prefill, generate in (("1", 1, "prefill_1", "generate_1"),
                                               (str(batch_size), batch_size, "prefill_b", "generate_b")):
            metrics[f"prefill_batch_{label}_tokens_per_s"] = Summary.of([size * prompt / t for t in times[prefill]])
            # Decoding time is the time of generating 1 + new tokens minus that of 1 token in the
            # same round. A round where noise makes the difference negative is dropped.
            decode = [size * new / (g - p) for p, g in zip(times[prefill], times[generate]) if g > p]
            if decode:
                metrics[f"decode_batch_{label}_tokens_per_s"] = Summary.of(decode)
    return metrics


def bench_entry(entry: Entry, settings: BenchSettings) -> BenchResult:
    """Measure every requested variant of the entry's model on the entry's own data."""
    device = _device(settings.device)
    if settings.threads:
        torch.set_num_threads(settings.threads)
    loaded = load_entry(entry)
    model = loaded.model.to(device).eval()
    examples = example_inputs(loaded, settings.batch_size)
    inputs, units = examples.inputs.to(device), examples.units
    language_model = callable(getattr(model, "generate", None)) and inputs.dtype == torch.long and inputs.dim() == 2
    prompt, new = _generation_lengths(settings, loaded.block_size, inputs.size(1)) if language_model else (None, None)
    unit = str(getattr(loaded.trainer, "unit", "examples"))

    variants = build_variants(model, loaded.info, list(settings.variants), device)
    results = {v.name: VariantResult(v.name, reason=v.reason) for v in variants}
    notices = [examples.random_reason] if examples.random_reason else []
    probes = {v.name: _probes(v, inputs, settings.batch_size, prompt, new) for v in variants if v.model is not None}
    times: dict[str, dict[str, list[float]]] = {name: {probe: [] for probe in calls} for name, calls in probes.items()}

    with torch.inference_mode():
        for round_index in range(settings.warmup + settings.repeats):
            for variant in variants:
                if variant.name not in probes:
                    continue
                for probe, call in probes[variant.name].items():
                    quiet = quiet_compiler() if variant.name == "compile" else nullcontext()
                    try:
                        with quiet:
                            seconds = _timed(call, device)
                    except Exception as error:  # noqa: BLE001  (see below)
                        # Only the derived variants may fail here: torch.compile without a working
                        # compiler, bf16 kernels a device lacks. A failure of the entry's own model is a bug.
                        if variant.name == "eager" or isinstance(error, ZooError):
                            raise
                        reason = compile_failure(error) if variant.name == "compile" else \
                            f"failed on this device ({type(error).__name__}: {str(error).strip().splitlines()[0]})"
                        results[variant.name].reason = reason
                        notices.append(f"{variant.name}: {reason}")
                        del probes[variant.name]
                        break
                    if round_index >= settings.warmup:
                        times[variant.name][probe].append(seconds)

        for variant in variants:
            if variant.name not in probes:
                continue
            result = results[variant.name]
            result.metrics = _metrics(times[variant.name], settings.batch_size, units, unit, prompt, new)
            peaks = [peak_bytes(probes[variant.name]["forward_b"], device)]
            if language_model:
                peaks.append(peak_bytes(probes[variant.name]["generate_b"], device))
            known = [p for p in peaks if p is not None]
            result.weights_bytes = weights_bytes(variant.model)
            result.peak_memory_bytes = result.weights_bytes + max(known) if known else None
            result.weights = weight_count(variant.model)

    weights_file = entry.path / "model.safetensors"
    return BenchResult(
        entry=entry.label, device=str(device), hardware=_hardware(device), threads=torch.get_num_threads(),
        torch=str(torch.__version__), batch_size=settings.batch_size, repeats=settings.repeats,
        warmup=settings.warmup, unit=unit, language_model=language_model, prompt_tokens=prompt, new_tokens=new,
        file_bytes=weights_file.stat().st_size, variants=[results[v.name] for v in variants], notices=notices)
