"""The causal language modelling trainer: next-token cross-entropy and its metrics."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional as F

from zoo_registry import DataError

from .options import CausalLMOptions

__all__ = ["CausalLM"]


class CausalLM:
    """Train a model that maps ``x[B, T]`` to logits ``[B, T, vocab]`` to predict ``y[B, T]``.

    Metrics: ``loss`` (mean cross-entropy in nats per token), ``perplexity``
    (exp of loss) and ``bpc`` (bits per character: total nats / characters /
    ln 2). The character count of each target token comes from
    ``info["token_char_counts"]`` (a list by token id, or one number for all
    ids), so bpc is exact for every tokenizer of this
    plugin; for the char tokenizer it equals loss / ln 2.
    """

    primary_metric = "loss"
    higher_is_better = False
    unit = "tokens"

    def __init__(self, options: CausalLMOptions, info: dict[str, Any]):
        self.options = options
        self.vocab_size = int(info["vocab_size"])
        counts = info.get("token_char_counts")
        if isinstance(counts, int):
            counts = [counts] * self.vocab_size
        self._char_counts = torch.tensor(counts, dtype=torch.long) if counts is not None else None

    def loss(self, model: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, y = batch
        logits = model(x)  # [B, T, vocab]
        return F.cross_entropy(logits.float().view(-1, logits.size(-1)), y.reshape(-1),
                               label_smoothing=self.options.label_smoothing)

    def count(self, batch: tuple[torch.Tensor, torch.Tensor]) -> int:
        return batch[1].numel()

    def eval_sums(self, model: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Return the summed cross-entropy (nats), the token count and the character count of one batch."""
        x, y = batch
        logits = model(x)  # [B, T, vocab]
        nll = F.cross_entropy(logits.float().view(-1, logits.size(-1)), y.reshape(-1), reduction="sum")
        sums = {"nll": nll.detach(), "tokens": torch.tensor(y.numel(), dtype=torch.long, device=y.device)}
        if self._char_counts is not None:
            if self._char_counts.device != y.device:
                self._char_counts = self._char_counts.to(y.device)
            sums["characters"] = self._char_counts[y].sum()
        return sums

    def metrics(self, sums: dict[str, torch.Tensor]) -> dict[str, float]:
        nll = float(sums["nll"])
        tokens = int(sums["tokens"])
        if tokens <= 0:
            raise DataError("no tokens were evaluated, so there is no loss; the evaluation split is empty")
        loss = nll / tokens
        out = {"loss": loss, "perplexity": math.exp(loss) if loss < 700 else math.inf}
        characters = int(sums["characters"]) if "characters" in sums else 0
        if characters:
            out["bpc"] = nll / characters / math.log(2)
        return out

    def report(self, sums: dict[str, torch.Tensor], folder: Path) -> dict[str, str]:
        """Write nothing: the runner's loss curve covers this trainer."""
        return {}
