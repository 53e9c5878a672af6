"""Generation helpers shared by the GPT and recurrent models: argument checks, the choice of the
next token from logits, padding masks and stop sequences."""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Callable, Sequence

import torch
from torch.nn import functional as F

from zoo_registry import Problem, ValidationError

_WHERE = "generate"


Generators = torch.Generator | Sequence[torch.Generator] | None
"""One generator for the whole batch, one per row (each row then samples as it would alone), or None."""

StepCallback = Callable[[torch.Tensor], None]
"""Callback run after each step with the new tokens [B], in which rows that have stopped get the pad token."""


def check_generate_args(idx: torch.Tensor, vocab_size: int, max_new_tokens: int, temperature: float,
                        top_k: int | None, top_p: float | None, attention_mask: torch.Tensor | None = None,
                        stop: Sequence[Sequence[int]] | None = None, pad_token_id: int = 0,
                        generator: Generators = None) -> None:
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
    if attention_mask is not None and isinstance(idx, torch.Tensor) and idx.dim() == 2:
        message = _mask_problem(attention_mask, tuple(idx.shape))
        if message:
            bad("attention_mask", message)
    for number, sequence in enumerate(stop or ()):
        ids = list(sequence) if isinstance(sequence, Sequence) and not isinstance(sequence, str) else None
        if not ids or not all(isinstance(i, Integral) and not isinstance(i, bool) and 0 <= i < vocab_size
                              for i in ids):
            bad(f"stop[{number}]", f"is {sequence!r}; each stop sequence must be a non-empty list of token ids "
                                   f"in [0, {vocab_size - 1}]")
    if not isinstance(pad_token_id, Integral) or isinstance(pad_token_id, bool) or not 0 <= pad_token_id < vocab_size:
        bad("pad_token_id", f"is {pad_token_id!r}; it must be a token id in [0, {vocab_size - 1}]")
    if isinstance(generator, Sequence) and isinstance(idx, torch.Tensor) and idx.dim() == 2 \
            and len(generator) != idx.shape[0]:
        bad("generator", f"is a list of {len(generator)} generators for a batch of {idx.shape[0]} prompts; "
                         "pass one generator per prompt, or a single one")
    if problems:
        raise ValidationError(problems)


def _mask_problem(mask: torch.Tensor, shape: tuple[int, int]) -> str | None:
    """Return why ``mask`` is not a left-padding mask for ids of ``shape``, or None when it is one."""
    if not isinstance(mask, torch.Tensor) or tuple(mask.shape) != shape:
        found = tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__
        return f"has shape {found}; it must have the prompt's shape {shape}"
    if mask.dtype.is_floating_point or mask.dtype.is_complex:
        return f"has dtype {mask.dtype}; use bool or integer values (1 for a token, 0 for padding)"
    if not bool(((mask == 0) | (mask == 1)).all()):
        return "holds values other than 0 and 1; use 1 for a token and 0 for padding"
    real = mask.bool()
    if shape[1] == 0:
        return None  # the empty prompt is reported on its own
    if not bool(real[:, -1].all()):
        rows = (~real[:, -1]).nonzero().flatten().tolist()
        return (f"row(s) {rows} end with padding; pad prompts on the left, so that every row ends with its "
                "last token")
    if not bool((real[:, 1:] >= real[:, :-1]).all()):
        rows = (real[:, 1:] < real[:, :-1]).any(dim=1).nonzero().flatten().tolist()
        return f"row(s) {rows} have padding after a token; put all padding on the left"
    return None


def padding_mask(attention_mask: torch.Tensor | None) -> torch.Tensor | None:
    """Return ``attention_mask`` as bool, or None when it marks no padding (the faster path)."""
    if attention_mask is None:
        return None
    mask = attention_mask.bool()
    return None if bool(mask.all()) else mask


def stop_hits(idx: torch.Tensor, generated: int, stop: Sequence[Sequence[int]]) -> torch.Tensor:
    """Return [B] bools: which rows of ``idx`` end with one of the ``stop`` sequences.

    Only the last ``generated`` tokens count, so a prompt that ends with a stop sequence does not
    stop the row before it has generated anything.
    """
    hits = torch.zeros(idx.shape[0], dtype=torch.bool, device=idx.device)
    for sequence in stop:
        if len(sequence) <= generated:
            target = torch.tensor(list(sequence), dtype=idx.dtype, device=idx.device)
            hits |= (idx[:, -len(sequence):] == target).all(dim=1)
    return hits


class GenerationRows:
    """Per-row bookkeeping of a generation loop: padding mask, stopped rows and the step callback.

    ``mask`` is the padding mask of the sequence so far, or None when the batch has no padding.
    """

    def __init__(self, idx: torch.Tensor, attention_mask: torch.Tensor | None,
                 stop: Sequence[Sequence[int]] | None, pad_token_id: int, on_step: StepCallback | None):
        self.mask = padding_mask(attention_mask)  # [B, T] or None
        self.finished = torch.zeros(idx.shape[0], dtype=torch.bool, device=idx.device)
        self.stop = stop
        self.pad_token_id = pad_token_id
        self.on_step = on_step
        self.steps = 0

    def append(self, idx: torch.Tensor, token: torch.Tensor) -> torch.Tensor:
        """Return ``idx`` with the new ``token[B, 1]`` appended, after padding the rows that had stopped."""
        token = token.masked_fill(self.finished[:, None], self.pad_token_id)
        idx = torch.cat((idx, token), dim=1)
        if self.mask is not None:
            self.mask = torch.cat((self.mask, torch.ones_like(token, dtype=torch.bool)), dim=1)
        self.steps += 1
        if self.on_step is not None:
            self.on_step(token[:, 0])
        if self.stop:
            self.finished |= stop_hits(idx, self.steps, self.stop)
        return idx

    @property
    def all_stopped(self) -> bool:
        """True once every row has generated one of the stop sequences."""
        return bool(self.stop) and bool(self.finished.all())


def next_token(logits: torch.Tensor, temperature: float, top_k: int | None, top_p: float | None,
               generator: Generators) -> torch.Tensor:
    """Pick one token per row of ``logits[B, vocab]``; return ids of shape [B, 1].

    With one generator per row, row ``i`` draws from ``generator[i]`` alone, so its token does
    not depend on the other rows of the batch.
    """
    if temperature == 0:
        return logits.argmax(dim=-1, keepdim=True)
    # Shifting by the maximum first keeps every value <= 0, so a tiny temperature gives -inf, never nan.
    logits = logits.float()
    logits = (logits - logits.max(dim=-1, keepdim=True).values) / temperature
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
    if isinstance(generator, Sequence):
        return torch.cat([torch.multinomial(probs[row:row + 1], num_samples=1, generator=g)
                          for row, g in enumerate(generator)])
    return torch.multinomial(probs, num_samples=1, generator=generator)
