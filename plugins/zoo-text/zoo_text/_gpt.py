"""A decoder-only, pre-norm transformer language model with a KV cache for generation.

Module and parameter names follow nanoGPT (``transformer.wte``, ``transformer.h.0.attn.c_attn``,
``lm_head``), so readers who know nanoGPT find each part under the same name.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from zoo_registry import Problem, ValidationError

from ._sampling import check_generate_args, next_token
from .options import GPTOptions

__all__ = ["GPT", "KVCache", "build_gpt"]


class KVCache:
    """Keys and values of every layer for the tokens seen so far, in buffers of ``block_size`` positions.

    A layer's buffers are allocated at its first ``append`` with the shape, dtype and
    device of the keys it receives, so the cache follows autocast and the model's device.
    """

    def __init__(self, n_layer: int, block_size: int):
        self.block_size = block_size
        self.keys: list[torch.Tensor | None] = [None] * n_layer
        self.values: list[torch.Tensor | None] = [None] * n_layer
        self.length = 0

    def append(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store ``k`` and ``v`` of shape [B, nh, T, hs] after the cached ones; return all of them."""
        if self.keys[layer] is None:
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

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(self.d_model, dim=2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # [B, nh, T, hs]
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # [B, nh, T, hs]
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # [B, nh, T, hs]

        mask = None
        causal = True
        if cache is not None:
            past = cache.length
            k, v = cache.append(layer, k, v)  # [B, nh, past + T, hs]
            if past:
                # New queries see every cached position and the new positions up to their own.
                causal = False
                if T > 1:
                    mask = torch.ones(T, past + T, dtype=torch.bool, device=x.device).tril(diagonal=past)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal,
                                           dropout_p=self.dropout if self.training else 0.0)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # [B, T, nh * hs]
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, options: GPTOptions):
        super().__init__()
        self.c_fc = nn.Linear(options.d_model, 4 * options.d_model, bias=options.bias)
        self.gelu = nn.GELU()
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

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), cache, layer)
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """GPT language model: ``forward(idx[B, T]) -> logits[B, T, vocab_size]`` with ``T <= block_size``."""

    def __init__(self, options: GPTOptions, vocab_size: int):
        super().__init__()
        self.options = options
        self.vocab_size = vocab_size
        self.block_size = options.block_size
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

    def forward(self, idx: torch.Tensor, cache: KVCache | None = None, last_only: bool = False) -> torch.Tensor:
        """Return logits [B, T, vocab]; with ``last_only`` only those of the last position, [B, 1, vocab]."""
        B, T = idx.size()
        start = cache.length if cache is not None else 0
        if start + T > self.block_size:
            raise ValidationError([Problem("GPT.forward", "idx", f"needs {start + T} positions but the context is "
                                           f"block_size={self.block_size}; pass at most {self.block_size - start} tokens")])
        pos = torch.arange(start, start + T, dtype=torch.long, device=idx.device)  # [T]
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))  # [B, T, C]
        for layer, block in enumerate(self.transformer.h):
            x = block(x, cache, layer)
        if cache is not None:
            cache.length += T
        x = self.transformer.ln_f(x)
        if last_only:
            x = x[:, -1:, :]  # [B, 1, C]
        return self.lm_head(x)

    def new_cache(self) -> KVCache:
        """Return an empty KV cache for up to ``block_size`` tokens."""
        return KVCache(self.options.n_layer, self.block_size)

    @torch.no_grad()
    def generate(self, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
                 top_p: float | None = None, generator: torch.Generator | None = None,
                 use_cache: bool = True) -> torch.Tensor:
        """Append ``max_new_tokens`` sampled tokens to ``idx[B, T]``; return the whole sequence [B, T + new].

        The context is the last ``block_size`` tokens. With ``use_cache`` the keys and values of
        that context are kept, so each step runs one position, until the window is full. After
        that the window slides and every position's embedding changes, so each step runs the
        whole window again, exactly as without the cache. Both paths draw the same random
        numbers, so they return the same tokens for the same ``generator`` state.
        """
        check_generate_args(idx, self.vocab_size, max_new_tokens, temperature, top_k, top_p)
        was_training = self.training
        self.eval()
        try:
            cache = None
            for _ in range(max_new_tokens):
                window = idx[:, -self.block_size:]  # [B, <= block_size]
                if not use_cache:
                    logits = self(window, last_only=True)
                elif cache is None or cache.length >= self.block_size:
                    cache = self.new_cache()
                    logits = self(window, cache, last_only=True)
                else:
                    logits = self(idx[:, -1:], cache, last_only=True)
                token = next_token(logits[:, -1, :], temperature, top_k, top_p, generator)  # [B, 1]
                idx = torch.cat((idx, token), dim=1)
        finally:
            self.train(was_training)
        return idx


def build_gpt(options: GPTOptions, info: dict[str, Any]) -> GPT:
    """Build a GPT for the vocabulary size that the dataset reports in ``info``."""
    return GPT(options, int(info["vocab_size"]))
