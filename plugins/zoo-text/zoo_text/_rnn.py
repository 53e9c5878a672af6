"""LSTM and GRU language models: embedding, stacked recurrent layers, output layer."""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from ._sampling import GenerationRows, Generators, StepCallback, check_generate_args, next_token
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

    compile_method = "run"
    """The method that ``generate`` calls for every step, which ``zoo generate --compile`` compiles."""

    context_limit = None
    """Prompts of any length fit: ``block_size`` is only the training sequence length."""

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

    def _run_rows(self, idx: torch.Tensor, mask: torch.Tensor | None) -> tuple[torch.Tensor, State]:
        """Return the last logits [B, 1, vocab] and the state after ``idx``, skipping each row's left padding.

        Padding would change a recurrent state, so a padded batch runs each row's tokens alone
        and stacks the states; decoding then runs the rows together.
        """
        if mask is None:
            logits, state = self.run(idx)
            return logits[:, -1:], state
        rows = [self.run(idx[row:row + 1, int((~mask[row]).sum()):]) for row in range(idx.shape[0])]
        logits = torch.cat([row_logits[:, -1:] for row_logits, _ in rows])
        if self.cell == "lstm":
            return logits, (torch.cat([h for _, (h, _) in rows], dim=1), torch.cat([c for _, (_, c) in rows], dim=1))
        return logits, torch.cat([h for _, h in rows], dim=1)  # [layers, B, d_model]

    @torch.no_grad()
    def generate(self, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
                 top_p: float | None = None, generator: Generators = None, use_cache: bool = True,
                 attention_mask: torch.Tensor | None = None, stop: Sequence[Sequence[int]] | None = None,
                 pad_token_id: int = 0, on_step: StepCallback | None = None) -> torch.Tensor:
        """Append up to ``max_new_tokens`` sampled tokens to ``idx[B, T]``; return the sequences [B, T + new].

        ``attention_mask``, ``stop``, ``pad_token_id`` and ``on_step`` work as in ``GPT.generate``:
        left-padded prompts, per-row stop sequences, and a callback with each step's tokens.

        With ``use_cache`` the prompt runs once and each step feeds only the new token with the
        carried hidden state. Without it every step runs the whole sequence from a zero state,
        which computes the same logits up to rounding and draws the same random numbers.
        """
        check_generate_args(idx, self.vocab_size, max_new_tokens, temperature, top_k, top_p,
                            attention_mask, stop, pad_token_id, generator)
        rows = GenerationRows(idx, attention_mask, stop, pad_token_id, on_step)
        was_training = self.training
        self.eval()
        try:
            state: State | None = None
            for _ in range(max_new_tokens):
                if not use_cache or state is None:
                    logits, state = self._run_rows(idx, rows.mask)
                else:
                    logits, state = self.run(idx[:, -1:], state)
                token = next_token(logits[:, -1, :], temperature, top_k, top_p, generator)  # [B, 1]
                idx = rows.append(idx, token)
                if not use_cache:
                    state = None
                if rows.all_stopped:
                    break
        finally:
            self.train(was_training)
        return idx


def build_lstm(options: RNNOptions, info: dict[str, Any]) -> RecurrentLM:
    """Build an LSTM language model for the vocabulary size that the dataset reports in ``info``."""
    return RecurrentLM(options, int(info["vocab_size"]), "lstm")


def build_gru(options: RNNOptions, info: dict[str, Any]) -> RecurrentLM:
    """Build a GRU language model for the vocabulary size that the dataset reports in ``info``."""
    return RecurrentLM(options, int(info["vocab_size"]), "gru")
