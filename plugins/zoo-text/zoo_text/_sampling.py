"""Checks of generation arguments and the choice of the next token from logits."""

from __future__ import annotations

import math
from numbers import Integral, Real

import torch
from torch.nn import functional as F

from zoo_registry import Problem, ValidationError

_WHERE = "generate"


def check_generate_args(idx: torch.Tensor, vocab_size: int, max_new_tokens: int, temperature: float,
                        top_k: int | None, top_p: float | None) -> None:
    """Raise ``ValidationError`` listing every generation argument outside its valid range."""
    problems = []

    def bad(field: str, message: str) -> None:
        problems.append(Problem(_WHERE, field, message))

    if not isinstance(idx, torch.Tensor) or idx.dtype != torch.long or idx.dim() != 2:
        shape = tuple(idx.shape) if isinstance(idx, torch.Tensor) else type(idx).__name__
        dtype = idx.dtype if isinstance(idx, torch.Tensor) else None
        bad("idx", f"has shape {shape} and dtype {dtype}; pass a LongTensor of shape [batch, tokens]")
    elif idx.numel():
        low, high = int(idx.min()), int(idx.max())
        if low < 0 or high >= vocab_size:
            value = low if low < 0 else high
            bad("idx", f"contains the token id {value}; ids must be in [0, {vocab_size - 1}] for this vocabulary")
    if isinstance(idx, torch.Tensor) and idx.dim() == 2 and idx.shape[1] == 0:
        bad("idx", "is empty; the prompt needs at least one token (encode a newline to start from nothing)")
    if not isinstance(max_new_tokens, Integral) or isinstance(max_new_tokens, bool) or max_new_tokens < 0:
        bad("max_new_tokens", f"is {max_new_tokens!r}; it must be an integer >= 0")
    if not isinstance(temperature, Real) or isinstance(temperature, bool) or not math.isfinite(temperature) \
            or temperature < 0:
        bad("temperature", f"is {temperature!r}; it must be a finite number >= 0 (0 means greedy decoding)")
    if top_k is not None and (not isinstance(top_k, Integral) or isinstance(top_k, bool)
                              or not 1 <= top_k <= vocab_size):
        bad("top_k", f"is {top_k!r}; it must be an integer in [1, {vocab_size}] (the vocabulary size), or None")
    if top_p is not None and (not isinstance(top_p, Real) or isinstance(top_p, bool)
                              or not (0 < top_p <= 1)):
        bad("top_p", f"is {top_p!r}; it must be a number in (0, 1], or None")
    if problems:
        raise ValidationError(problems)


def next_token(logits: torch.Tensor, temperature: float, top_k: int | None, top_p: float | None,
               generator: torch.Generator | None) -> torch.Tensor:
    """Pick one token per row of ``logits[B, vocab]``; return ids of shape [B, 1]."""
    if temperature == 0:
        return logits.argmax(dim=-1, keepdim=True)
    logits = logits.float() / temperature
    if top_k is not None and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]  # [B, 1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        # Drop a token when the tokens ranked above it already reach top_p; the first token always stays.
        drop_sorted = (cumulative - sorted_logits.softmax(dim=-1)) >= top_p
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    probs = F.softmax(logits, dim=-1)
    return torch.multinomial(probs, num_samples=1, generator=generator)
