"""LSTM and GRU language models: embedding, stacked recurrent layers, output layer."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ._sampling import check_generate_args, next_token
from .options import RNNOptions

__all__ = ["RecurrentLM", "build_gru", "build_lstm"]

# The hidden state of nn.LSTM is a (h, c) pair and that of nn.GRU a single tensor.
State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]

_CELLS = {"lstm": nn.LSTM, "gru": nn.GRU}


class RecurrentLM(nn.Module):
    """Recurrent language model: ``forward(idx[B, T]) -> logits[B, T, vocab_size]``.

    Training windows start from a zero hidden state, so ``block_size`` is the
    truncated backpropagation through time length. Generation carries the
    hidden state forward and has no context limit.
    """

    def __init__(self, options: RNNOptions, vocab_size: int, cell: str):
        super().__init__()
        self.options = options
        self.cell = cell
        self.vocab_size = vocab_size
        self.block_size = options.block_size
        self.embedding = nn.Embedding(vocab_size, options.embedding_size)
        self.drop = nn.Dropout(options.dropout)
        # nn.LSTM and nn.GRU apply dropout between layers only, and warn when there is just one.
        self.rnn = _CELLS[cell](options.embedding_size, options.d_model, num_layers=options.n_layer,
                                dropout=options.dropout if options.n_layer > 1 else 0.0, batch_first=True)
        self.lm_head = nn.Linear(options.d_model, vocab_size)

        # Small uniform weights, as Zaremba et al. (2014) use for their small LSTM. The default
        # N(0, 1) embedding would give tied output logits a spread of several nats at step 0.
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        nn.init.zeros_(self.lm_head.bias)
        if options.tie_weights:
            self.lm_head.weight = self.embedding.weight
        else:
            nn.init.uniform_(self.lm_head.weight, -0.1, 0.1)

    def run(self, idx: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """Return logits [B, T, vocab] and the hidden state after the last token, starting from ``state``."""
        x = self.drop(self.embedding(idx))  # [B, T, d_embed]
        output, state = self.rnn(x, state)  # [B, T, d_model]
        return self.lm_head(self.drop(output)), state

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.run(idx)[0]

    @torch.no_grad()
    def generate(self, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
                 top_p: float | None = None, generator: torch.Generator | None = None,
                 use_cache: bool = True) -> torch.Tensor:
        """Append ``max_new_tokens`` sampled tokens to ``idx[B, T]``; return the whole sequence [B, T + new].

        With ``use_cache`` the prompt runs once and each step feeds only the new token with the
        carried hidden state. Without it every step runs the whole sequence from a zero state,
        which computes the same logits up to rounding and draws the same random numbers.
        """
        check_generate_args(idx, self.vocab_size, max_new_tokens, temperature, top_k, top_p)
        was_training = self.training
        self.eval()
        try:
            state: State | None = None
            for _ in range(max_new_tokens):
                if not use_cache:
                    logits, _ = self.run(idx)
                elif state is None:
                    logits, state = self.run(idx)
                else:
                    logits, state = self.run(idx[:, -1:], state)
                token = next_token(logits[:, -1, :], temperature, top_k, top_p, generator)  # [B, 1]
                idx = torch.cat((idx, token), dim=1)
        finally:
            self.train(was_training)
        return idx


def build_lstm(options: RNNOptions, info: dict[str, Any]) -> RecurrentLM:
    """Build an LSTM language model for the vocabulary size that the dataset reports in ``info``."""
    return RecurrentLM(options, int(info["vocab_size"]), "lstm")


def build_gru(options: RNNOptions, info: dict[str, Any]) -> RecurrentLM:
    """Build a GRU language model for the vocabulary size that the dataset reports in ``info``."""
    return RecurrentLM(options, int(info["vocab_size"]), "gru")
