"""The causal-lm trainer: loss, additive evaluation sums and metrics on cases checked by hand."""

from __future__ import annotations

import math

import pytest
import torch

from zoo_registry import DataError
from zoo_text._trainer import CausalLM
from zoo_text.options import CausalLMOptions


class FixedLogits(torch.nn.Module):
    """A model whose logits are the same distribution at every position, whatever the input."""

    def __init__(self, probabilities: list[float]):
        super().__init__()
        self.logits = torch.nn.Parameter(torch.tensor(probabilities).log())

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.logits.expand(*idx.shape, -1)  # [B, T, vocab]


def trainer(counts=1, vocab_size=3, label_smoothing=0.0) -> CausalLM:
    return CausalLM(CausalLMOptions(label_smoothing=label_smoothing),
                    {"vocab_size": vocab_size, "token_char_counts": counts})


def test_metrics_of_known_distribution():
    # p = (1/2, 1/4, 1/4); targets 0 and 1 cost ln 2 + ln 4 = 3 ln 2 nats over 2 tokens.
    model = FixedLogits([0.5, 0.25, 0.25])
    batch = (torch.zeros(1, 2, dtype=torch.long), torch.tensor([[0, 1]]))
    lm = trainer()
    sums = lm.eval_sums(model, batch)
    assert sums["nll"].item() == pytest.approx(3 * math.log(2))
    assert sums["tokens"].item() == 2
    assert sums["characters"].item() == 2
    metrics = lm.metrics(sums)
    assert metrics["loss"] == pytest.approx(1.5 * math.log(2))
    assert metrics["perplexity"] == pytest.approx(2 ** 1.5)
    assert metrics["bpc"] == pytest.approx(1.5)


def test_bpc_counts_characters_per_token():
    # Token 0 stands for 3 characters, 1 and 2 for one each: 3 ln 2 nats over 4 characters.
    model = FixedLogits([0.5, 0.25, 0.25])
    batch = (torch.zeros(1, 2, dtype=torch.long), torch.tensor([[0, 1]]))
    lm = trainer(counts=[3, 1, 1])
    metrics = lm.metrics(lm.eval_sums(model, batch))
    assert metrics["bpc"] == pytest.approx(0.75)
    assert metrics["loss"] == pytest.approx(1.5 * math.log(2))


def test_uniform_model_scores_log_vocab():
    vocab = 65
    model = FixedLogits([1 / vocab] * vocab)
    y = torch.randint(0, vocab, (4, 16), generator=torch.Generator().manual_seed(0))
    lm = trainer(vocab_size=vocab)
    metrics = lm.metrics(lm.eval_sums(model, (y, y)))
    assert metrics["loss"] == pytest.approx(math.log(vocab))
    assert metrics["perplexity"] == pytest.approx(vocab)
    assert metrics["bpc"] == pytest.approx(math.log2(vocab))


def test_eval_sums_add_over_batches():
    model = FixedLogits([0.6, 0.3, 0.1])
    y = torch.tensor([[0, 1, 2, 2], [1, 1, 0, 2]])
    lm = trainer(counts=[1, 2, 1])
    whole = lm.eval_sums(model, (y, y))
    halves = [lm.eval_sums(model, (y[i:i + 1], y[i:i + 1])) for i in range(2)]
    for key in ("nll", "tokens", "characters"):
        assert (halves[0][key] + halves[1][key]).item() == pytest.approx(whole[key].item())


def test_loss_is_mean_cross_entropy():
    model = FixedLogits([0.5, 0.25, 0.25])
    loss = trainer().loss(model, (torch.zeros(1, 2, dtype=torch.long), torch.tensor([[0, 1]])))
    assert loss.item() == pytest.approx(1.5 * math.log(2))
    loss.backward()
    assert model.logits.grad is not None


def test_label_smoothing_changes_training_loss_only():
    # With smoothing e the target is (1 - e) one-hot + e uniform over 3 classes.
    model = FixedLogits([0.5, 0.25, 0.25])
    batch = (torch.zeros(1, 1, dtype=torch.long), torch.tensor([[0]]))
    lm = trainer(label_smoothing=0.3)
    uniform_cost = -(math.log(0.5) + 2 * math.log(0.25)) / 3
    assert lm.loss(model, batch).item() == pytest.approx(0.7 * math.log(2) + 0.3 * uniform_cost)
    assert lm.metrics(lm.eval_sums(model, batch))["loss"] == pytest.approx(math.log(2))


def test_count_and_declarations():
    lm = trainer()
    assert lm.count((torch.zeros(3, 7), torch.zeros(3, 7))) == 21
    assert (lm.primary_metric, lm.higher_is_better, lm.unit) == ("loss", False, "tokens")
    assert lm.report({}, None) == {}


def test_metrics_without_character_counts():
    lm = CausalLM(CausalLMOptions(), {"vocab_size": 3})
    sums = lm.eval_sums(FixedLogits([0.5, 0.25, 0.25]), (torch.zeros(1, 1, dtype=torch.long), torch.tensor([[0]])))
    assert "characters" not in sums
    assert set(lm.metrics(sums)) == {"loss", "perplexity"}


def test_metrics_of_nothing():
    with pytest.raises(DataError) as caught:
        trainer().metrics({"nll": torch.tensor(0.0), "tokens": torch.tensor(0)})
    assert str(caught.value) == "no tokens were evaluated, so there is no loss; the evaluation split is empty"
