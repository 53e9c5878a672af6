"""A decoder-only, pre-norm transformer language model with a KV cache for generation.

Module and parameter names follow nanoGPT (``transformer.wte``, ``transformer.h.0.attn.c_attn``,
``lm_head``), so readers who know nanoGPT find each part under the same name.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from zoo_registry import Problem, ValidationError

from ._sampling import GenerationRows, Generators, StepCallback, check_generate_args, next_token, padding_mask
from .options import GPTOptions

__all__ = ["GPT", "KVCache", "build_gpt"]


class KVCache:
    """Keys and values of every layer for the tokens seen so far, in buffers of ``block_size`` positions.

    A layer's buffers are allocated at its first ``append`` with the shape, dtype and device of
    the keys it receives, so the cache follows autocast and the model's device, and later
    appends write into them without allocating.

    Left-padded batches also keep ``key_mask`` (which cached positions hold tokens rather than
    padding) and ``tokens`` (how many real tokens each row has so far, its next position).
    Both stay None while no padding has been seen.
    """

    def __init__(self, n_layer: int, block_size: int):
        self.block_size = block_size
        self.keys: list[torch.Tensor | None] = [None] * n_layer
        self.values: list[torch.Tensor | None] = [None] * n_layer
        self.length = 0
        self.key_mask: torch.Tensor | None = None  # [B, length] bool
        self.tokens: torch.Tensor | None = None  # [B] long

    def append(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store ``k`` and ``v`` of shape [B, nh, T, hs] after the cached ones; return all of them."""
        keys = self.keys[layer]
        if keys is None or keys.shape[0] != k.shape[0] or keys.dtype != k.dtype or keys.device != k.device:
            batch, n_head, _, head_size = k.shape
            self.keys[layer] = k.new_zeros(batch, n_head, self.block_size, head_size)
            self.values[layer] = v.new_zeros(batch, n_head, self.block_size, head_size)
        end = self.length + k.size(2)
        self.keys[layer][:, :, self.length:end] = k
        self.values[layer][:, :, self.length:end] = v
        return self.keys[layer][:, :, :end], self.values[layer][:, :, :end]


class CausalSelfAttention(nn.Module):
    def __init__(self, options: GPTOptions):
        super().__init__()
        self.n_head = options.n_head
        self.d_model = options.d_model
        self.dropout = options.dropout
        self.c_attn = nn.Linear(options.d_model, 3 * options.d_model, bias=options.bias)
        self.c_proj = nn.Linear(options.d_model, options.d_model, bias=options.bias)
        self.resid_dropout = nn.Dropout(options.dropout)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0,
                mask: torch.Tensor | None = None, causal: bool = True) -> torch.Tensor:
        """Attend from ``x[B, T, C]`` to itself and the cached positions.

        ``mask`` contains [T, S] or [B, 1, T, S] bools, True where a query may attend. It replaces the
        plain causal mask when it is given or when ``causal`` is False. The model builds it once per call.
        """
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(self.d_model, dim=2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # [B, nh, T, hs]
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # [B, nh, T, hs]
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # [B, nh, T, hs]

        if cache is not None:
            k, v = cache.append(layer, k, v)  # [B, nh, past + T, hs]
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal and mask is None,
                                           dropout_p=self.dropout if self.training else 0.0)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # [B, T, nh * hs]
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, options: GPTOptions):
        super().__init__()
        self.c_fc = nn.Linear(options.d_model, 4 * options.d_model, bias=options.bias)
        self.gelu = nn.GELU(approximate="tanh" if options.activation == "gelu_tanh" else "none")
        self.c_proj = nn.Linear(4 * options.d_model, options.d_model, bias=options.bias)
        self.dropout = nn.Dropout(options.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, options: GPTOptions):
        super().__init__()
        self.ln_1 = nn.LayerNorm(options.d_model, bias=options.bias)
        self.attn = CausalSelfAttention(options)
        self.ln_2 = nn.LayerNorm(options.d_model, bias=options.bias)
        self.mlp = MLP(options)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0,
                mask: torch.Tensor | None = None, causal: bool = True) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), cache, layer, mask, causal)
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """GPT language model: ``forward(idx[B, T]) -> logits[B, T, vocab_size]`` with ``T <= block_size``."""

    def __init__(self, options: GPTOptions, vocab_size: int):
        super().__init__()
        self.options = options
        self.vocab_size = vocab_size
        self.block_size = options.block_size
        self.context_limit = options.block_size  # generation keeps the last block_size tokens of a longer prompt
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(vocab_size, options.d_model),
            wpe=nn.Embedding(options.block_size, options.d_model),
            drop=nn.Dropout(options.dropout),
            h=nn.ModuleList([Block(options) for _ in range(options.n_layer)]),
            ln_f=nn.LayerNorm(options.d_model, bias=options.bias),
        ))
        self.lm_head = nn.Linear(options.d_model, vocab_size, bias=False)
        if options.tie_weights:
            self.transformer.wte.weight = self.lm_head.weight

        self.apply(self._init_weights)
        # Residual projections start smaller, scaled by 1/sqrt(number of residual layers) as in
        # the GPT-2 paper (Radford et al., 2019), so the residual stream's variance does not grow with depth.
        for name, parameter in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(parameter, mean=0.0, std=0.02 / math.sqrt(2 * options.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(self, idx: torch.Tensor, cache: KVCache | None = None, last_only: bool = False,
                attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Return logits [B, T, vocab]; with ``last_only`` only those of the last position, [B, 1, vocab].

        ``attention_mask[B, T]`` (1 for a token, 0 for left padding) lets prompts of different
        lengths share a batch: padding gets no attention and takes no position, so each row's
        logits equal those of the row run alone. With a ``cache`` the mask covers the new tokens.
        """
        B, T = idx.size()
        start = cache.length if cache is not None else 0
        if start + T > self.block_size:
            raise ValidationError([Problem("GPT.forward", "idx", f"needs {start + T} positions but the context is "
                                           f"block_size={self.block_size}; pass at most {self.block_size - start} tokens")])
        padded = attention_mask is not None or (cache is not None and cache.key_mask is not None)
        if padded:
            pos, mask, causal = self._padded_positions(idx, cache, attention_mask)
        else:
            pos = torch.arange(start, start + T, dtype=torch.long, device=idx.device)  # [T]
            mask, causal = None, True
            if start:
                # New queries see every cached position and the new positions up to their own.
                causal = False
                if T > 1:
                    mask = torch.ones(T, start + T, dtype=torch.bool, device=idx.device).tril(diagonal=start)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))  # [B, T, C]
        for layer, block in enumerate(self.transformer.h):
            x = block(x, cache, layer, mask, causal)
        if cache is not None:
            cache.length += T
        x = self.transformer.ln_f(x)
        if last_only:
            x = x[:, -1:, :]  # [B, 1, C]
        return self.lm_head(x)

    def _padded_positions(self, idx: torch.Tensor, cache: KVCache | None,
                          attention_mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """Return the positions [B, T] and attention mask [B, 1, T, S] of a left-padded batch.

        A row's positions count its real tokens only. A query attends to the real keys up to its
        own position, and padding queries to themselves alone, so that no row of the softmax is empty.
        """
        B, T = idx.size()
        new = attention_mask.bool() if attention_mask is not None else \
            torch.ones(B, T, dtype=torch.bool, device=idx.device)  # [B, T]
        start, seen = 0, torch.zeros(B, dtype=torch.long, device=idx.device)
        keys = new
        if cache is not None:
            start = cache.length
            if cache.key_mask is not None:
                seen = cache.tokens
                keys = torch.cat((cache.key_mask, new), dim=1)  # [B, S]
            elif start:
                seen = torch.full((B,), start, dtype=torch.long, device=idx.device)
                keys = torch.cat((torch.ones(B, start, dtype=torch.bool, device=idx.device), new), dim=1)
            cache.key_mask = keys
            cache.tokens = seen + new.sum(dim=1)
        pos = (seen[:, None] + new.cumsum(dim=1) - 1).clamp(min=0)  # [B, T]
        own = torch.arange(start, start + T, device=idx.device)[:, None]  # [T, 1]
        columns = torch.arange(start + T, device=idx.device)[None, :]  # [1, S]
        mask = (columns <= own) & (keys[:, None, :] | (columns == own))  # [B, T, S]
        return pos, mask[:, None], False

    def new_cache(self) -> KVCache:
        """Return an empty KV cache for up to ``block_size`` tokens."""
        return KVCache(self.options.n_layer, self.block_size)

    @torch.no_grad()
    def generate(self, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
                 top_p: float | None = None, generator: Generators = None, use_cache: bool = True,
                 attention_mask: torch.Tensor | None = None, stop: Sequence[Sequence[int]] | None = None,
                 pad_token_id: int = 0, on_step: StepCallback | None = None) -> torch.Tensor:
        """Append up to ``max_new_tokens`` sampled tokens to ``idx[B, T]``; return the sequences [B, T + new].

        Prompts of different lengths are left-padded in ``idx`` and marked by ``attention_mask``
        (1 for a token, 0 for padding). A row stops once its new tokens end with one of the
        ``stop`` token sequences, and gets ``pad_token_id`` after that. Generation ends early
        when every row has stopped. ``on_step`` receives each step's new tokens, for streaming.

        The context is the last ``block_size`` positions. With ``use_cache`` their keys and
        values are kept in buffers allocated once, so each step runs one position until the
        window is full. After that the window slides and every position's embedding changes, so
        each step runs the whole window without the cache, as ``use_cache=False`` does. Both
        paths draw the same random numbers, so they return the same tokens for the same
        ``generator`` state.
        """
        check_generate_args(idx, self.vocab_size, max_new_tokens, temperature, top_k, top_p,
                            attention_mask, stop, pad_token_id, generator)
        rows = GenerationRows(idx, attention_mask, stop, pad_token_id, on_step)
        cache = self.new_cache() if use_cache else None
        was_training = self.training
        self.eval()
        try:
            for step in range(max_new_tokens):
                window = idx[:, -self.block_size:]  # [B, <= block_size]
                window_mask = padding_mask(rows.mask[:, -self.block_size:]) if rows.mask is not None else None
                if cache is None or idx.size(1) > self.block_size:
                    # The window slides from here on, so no later step could reuse cached keys.
                    logits = self(window, last_only=True, attention_mask=window_mask)
                elif step == 0:
                    logits = self(window, cache, last_only=True, attention_mask=window_mask)
                else:
                    logits = self(idx[:, -1:], cache, last_only=True)
                token = next_token(logits[:, -1, :], temperature, top_k, top_p, generator)  # [B, 1]
                idx = rows.append(idx, token)
                if rows.all_stopped:
                    break
        finally:
            self.train(was_training)
        return idx


def build_gpt(options: GPTOptions, info: dict[str, Any]) -> GPT:
    """Build a GPT for the vocabulary size that the dataset reports in ``info``."""
    return GPT(options, int(info["vocab_size"]))
