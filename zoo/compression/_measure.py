"""Side-by-side measurements of models: size, weight counts, CPU latency, throughput and generation speed.

Timings alternate between the models round by round, so a load change on a
shared machine hits every model alike; each number is the median of the rounds.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import torch


def weight_tensors(model: torch.nn.Module) -> list[torch.Tensor]:
    """Return the model's weights, each once: its parameters and its int8 buffers (quantized weights)."""
    seen: set[int] = set()
    tensors = []
    for tensor in [*model.parameters(), *(b for b in model.buffers() if b.dtype == torch.int8)]:
        if id(tensor) not in seen:
            seen.add(id(tensor))
            tensors.append(tensor)
    return tensors


def weight_count(model: torch.nn.Module) -> int:
    """Return the number of weights, counting an int8 value like a parameter (its scales are not counted)."""
    return sum(t.numel() for t in weight_tensors(model))


def nonzero_count(model: torch.nn.Module) -> int:
    return sum(int(torch.count_nonzero(t)) for t in weight_tensors(model))


@dataclass
class Timing:
    """Median seconds of one call and what it processed."""

    seconds: list[float] = field(default_factory=list)
    units: int = 0

    @property
    def median(self) -> float:
        return statistics.median(self.seconds) if self.seconds else float("nan")

    @property
    def rate(self) -> float:
        return self.units / self.median if self.seconds else float("nan")


@dataclass
class Speed:
    """Speed of one model: batch-1 latency, full-batch throughput and, for language models, generation."""

    latency: Timing
    throughput: Timing
    generation: Timing | None = None

    def as_dict(self, unit: str) -> dict[str, float]:
        out = {"latency_ms": self.latency.median * 1000, f"throughput_{unit}_per_s": self.throughput.rate}
        if self.generation is not None:
            out["generation_tokens_per_s"] = self.generation.rate
        return out


def _time(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def can_generate(model: torch.nn.Module) -> bool:
    return callable(getattr(model, "generate", None))


def measure_speed(models: dict[str, torch.nn.Module], single: torch.Tensor, batch: torch.Tensor, batch_units: int,
                  *, rounds: int = 10, generate_tokens: int = 0, generate_rounds: int = 3,
                  prompt: torch.Tensor | None = None) -> dict[str, Speed]:
    """Time every model on the same inputs, alternating between them in each round.

    ``single`` is one example (batch 1) for latency, ``batch`` a full batch of
    ``batch_units`` units (tokens, images) for throughput. With ``generate_tokens``
    and a ``prompt`` [1, T], models that have ``generate`` are timed generating that
    many tokens greedily.
    """
    speeds = {name: Speed(Timing(units=1), Timing(units=batch_units)) for name in models}
    for model in models.values():
        model.eval()
    with torch.inference_mode():
        for model in models.values():  # warm-up: allocations, int8 weight packing, kernel selection
            model(single)
            model(batch)
        for _ in range(rounds):
            for name, model in models.items():
                speeds[name].latency.seconds.append(_time(lambda: model(single)))
                speeds[name].throughput.seconds.append(_time(lambda: model(batch)))
        if generate_tokens and prompt is not None:
            generating = {name: model for name, model in models.items() if can_generate(model)}
            for name, model in generating.items():
                model.generate(prompt, 2, temperature=0)
                speeds[name].generation = Timing(units=generate_tokens)
            for _ in range(generate_rounds):
                for name, model in generating.items():
                    elapsed = _time(lambda: model.generate(prompt, generate_tokens, temperature=0))
                    speeds[name].generation.seconds.append(elapsed)
    return speeds
