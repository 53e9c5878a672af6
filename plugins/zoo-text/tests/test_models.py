"""The gpt, lstm and gru architectures: training step, generation, KV cache and hidden-state carry."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from zoo_registry import ValidationError, ZooError
from zoo_text._gpt import build_gpt
from zoo_text._rnn import build_gru, build_lstm
from zoo_text.options import GPTOptions, RNNOptions

VOCAB = 11
INFO = {"vocab_size": VOCAB}
BLOCK = 8

# Tiny configurations of every architecture, including the less common switches.
CONFIGS = {
    "gpt": (build_gpt, GPTOptions(n_layer=2, n_head=2, d_model=16, block_size=BLOCK)),
    "gpt-bias-dropout-untied": (build_gpt, GPTOptions(n_layer=1, n_head=4, d_model=16, block_size=BLOCK,
                                                      dropout=0.1, bias=True, tie_weights=False)),
    "lstm": (build_lstm, RNNOptions(n_layer=2, d_model=16, block_size=BLOCK)),
    "lstm-untied-small-embedding": (build_lstm, RNNOptions(n_layer=1, d_model=16, d_embed=8, dropout=0.1,
                                                           tie_weights=False, block_size=BLOCK)),
    "gru": (build_gru, RNNOptions(n_layer=2, d_model=16, dropout=0.1, block_size=BLOCK)),
}
GENERATORS = ["gpt", "lstm", "gru"]
SAMPLINGS = {
    "greedy": dict(temperature=0),
    "sampled": dict(temperature=1.0),
    "top-k": dict(temperature=0.8, top_k=4),
    "top-p": dict(temperature=1.3, top_p=0.7),
}


def build(name: str, seed: int = 0) -> torch.nn.Module:
    builder, options = CONFIGS[name]
    torch.manual_seed(seed)
    return builder(options, INFO)


def prompt(batch: int = 2, length: int = 3) -> torch.Tensor:
    return torch.randint(0, VOCAB, (batch, length), generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("name", CONFIGS)
def test_architecture_forward_backward(name):
    model = build(name)
    x, y = prompt(3, BLOCK), prompt(3, BLOCK).roll(1, dims=1)
    logits = model(x)
    assert logits.shape == (3, BLOCK, VOCAB)
    loss = F.cross_entropy(logits.view(-1, VOCAB), y.view(-1))
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert missing == []
    assert all(p.grad.abs().sum() > 0 for p in model.parameters())


@pytest.mark.parametrize("name", CONFIGS)
def test_architecture_learns_a_sequence(name):
    # A few steps on one repeated batch must lower the loss; a broken gradient path would not.
    model = build(name)
    x = torch.arange(BLOCK).remainder(VOCAB).repeat(4, 1)
    y = (x + 1).remainder(VOCAB)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-2)
    losses = []
    for _ in range(60):
        loss = F.cross_entropy(model(x).view(-1, VOCAB), y.view(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize("tied", [True, False])
def test_gpt_tied_weights_share_storage(tied):
    model = build_gpt(GPTOptions(n_layer=1, n_head=2, d_model=8, block_size=4, tie_weights=tied), INFO)
    assert (model.transformer.wte.weight is model.lm_head.weight) == tied


@pytest.mark.parametrize("builder", [build_lstm, build_gru])
@pytest.mark.parametrize("tied", [True, False])
def test_rnn_tied_weights_share_storage(builder, tied):
    model = builder(RNNOptions(n_layer=1, d_model=8, tie_weights=tied), INFO)
    assert (model.embedding.weight is model.lm_head.weight) == tied


def test_rnn_tied_weights_need_equal_sizes():
    with pytest.raises(ValidationError) as caught:
        RNNOptions(d_model=32, d_embed=16, tie_weights=True)
    assert str(caught.value.problems[0]) == (
        "recipe: model.d_embed: is 16 but model.d_model is 32; tie_weights: true shares one matrix between the "
        "embedding and the output layer, so set d_embed to 32 (or null), or set tie_weights: false"
    )


def test_gpt_heads_must_divide_width():
    with pytest.raises(ValidationError) as caught:
        GPTOptions(n_head=3, d_model=128)
    assert str(caught.value.problems[0]) == (
        "recipe: model.d_model: is 128, which model.n_head=3 does not divide; each head gets d_model / n_head "
        "channels, so pick a multiple of 3 or another n_head"
    )


def test_gpt_forward_rejects_more_than_block_size():
    model = build("gpt")
    with pytest.raises(ValidationError) as caught:
        model(prompt(1, BLOCK + 1))
    assert str(caught.value.problems[0]) == (
        "GPT.forward: idx: needs 9 positions but the context is block_size=8; pass at most 8 tokens"
    )


@pytest.mark.parametrize("sampling", SAMPLINGS.values(), ids=SAMPLINGS.keys())
@pytest.mark.parametrize("name", GENERATORS)
def test_generate_cached_equals_uncached(name, sampling):
    # 3 prompt tokens + 20 new ones run past GPT's block_size of 8, so the window slides too.
    model = build(name)
    outputs = [model.generate(prompt(), 20, generator=torch.Generator().manual_seed(7), use_cache=use_cache,
                              **sampling) for use_cache in (True, False)]
    assert outputs[0].shape == (2, 23)
    assert torch.equal(outputs[0], outputs[1])


@pytest.mark.parametrize("name, embedding", [("gpt", "transformer.wte"), ("lstm", "embedding"), ("gru", "embedding")])
def test_generate_cache_runs_one_token_per_step(name, embedding):
    model = build(name)
    lengths = []
    model.get_submodule(embedding).register_forward_hook(lambda module, args, out: lengths.append(args[0].shape[1]))
    model.generate(prompt(), 4, use_cache=True)
    assert lengths == [3, 1, 1, 1]
    lengths.clear()
    model.generate(prompt(), 4, use_cache=False)
    assert lengths == [3, 4, 5, 6]


def test_gpt_cache_recomputes_window_once_full():
    # Once the context holds block_size tokens, every new token shifts all positions, so each
    # step re-runs the whole window: prompt 6 -> runs of 6, 1, 1, then 8, 8 for block_size 8.
    model = build("gpt")
    lengths = []
    model.transformer.wte.register_forward_hook(lambda module, args, out: lengths.append(args[0].shape[1]))
    model.generate(prompt(1, 6), 5, use_cache=True)
    assert lengths == [6, 1, 1, 8, 8]


def test_gpt_cached_logits_equal_full_forward():
    model = build("gpt").eval()
    sequence = prompt(2, BLOCK)
    with torch.no_grad():
        full = model(sequence)  # [B, T, vocab]
        cache = model.new_cache()
        steps = [model(sequence[:, :3], cache)]
        steps += [model(sequence[:, t:t + 1], cache) for t in range(3, BLOCK)]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["lstm", "gru"])
def test_rnn_carried_state_equals_rerunning_prompt(name):
    model = build(name).eval()
    sequence = prompt(2, 12)  # longer than block_size: generation has no context limit
    with torch.no_grad():
        full, _ = model.run(sequence)
        logits, state = model.run(sequence[:, :5])
        steps = [logits]
        for t in range(5, 12):
            logits, state = model.run(sequence[:, t:t + 1], state)
            steps.append(logits)
    torch.testing.assert_close(torch.cat(steps, dim=1), full, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", GENERATORS)
def test_generate_greedy_follows_argmax(name):
    model = build(name).eval()
    out = model.generate(prompt(1), 6, temperature=0)
    idx = prompt(1)
    with torch.no_grad():
        for _ in range(6):
            logits = model(idx[:, -BLOCK:])
            idx = torch.cat((idx, logits[:, -1].argmax(-1, keepdim=True)), dim=1)
    assert torch.equal(out, idx)


@pytest.mark.parametrize("limit", [dict(top_k=1), dict(top_p=1e-6)], ids=["top-k-1", "tiny-top-p"])
@pytest.mark.parametrize("name", GENERATORS)
def test_generate_narrow_sampling_is_greedy(name, limit):
    model = build(name)
    greedy = model.generate(prompt(), 10, temperature=0)
    narrow = model.generate(prompt(), 10, temperature=1.5, generator=torch.Generator().manual_seed(3), **limit)
    assert torch.equal(narrow, greedy)


def test_generate_seed_repeats_and_differs():
    model = build("gpt")
    first = model.generate(prompt(), 15, generator=torch.Generator().manual_seed(5))
    again = model.generate(prompt(), 15, generator=torch.Generator().manual_seed(5))
    other = model.generate(prompt(), 15, generator=torch.Generator().manual_seed(6))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_gpt_generate_crops_long_prompt():
    model = build("gpt")
    long_prompt = prompt(1, 20)
    out = model.generate(long_prompt, 3, temperature=0)
    cropped = model.generate(long_prompt[:, -BLOCK:], 3, temperature=0)
    assert torch.equal(out[:, :20], long_prompt)
    assert torch.equal(out[:, 20:], cropped[:, BLOCK:])


@pytest.mark.parametrize("name", GENERATORS)
def test_generate_restores_training_mode(name):
    model = build(name).train()
    model.generate(prompt(), 2)
    assert model.training
    model.eval()
    model.generate(prompt(), 2)
    assert not model.training


def test_generate_zero_new_tokens_returns_prompt():
    assert torch.equal(build("gpt").generate(prompt(), 0), prompt())


@pytest.mark.parametrize("arguments, field, message", [
    (dict(temperature=-0.5), "temperature", "is -0.5; it must be a finite number >= 0 (0 means greedy decoding)"),
    (dict(temperature=float("nan")), "temperature", "is nan; it must be a finite number >= 0 (0 means greedy decoding)"),
    (dict(top_k=0), "top_k", "is 0; it must be an integer in [1, 11] (the vocabulary size), or None"),
    (dict(top_k=12), "top_k", "is 12; it must be an integer in [1, 11] (the vocabulary size), or None"),
    (dict(top_k=2.5), "top_k", "is 2.5; it must be an integer in [1, 11] (the vocabulary size), or None"),
    (dict(top_p=0.0), "top_p", "is 0.0; it must be a number in (0, 1], or None"),
    (dict(top_p=1.5), "top_p", "is 1.5; it must be a number in (0, 1], or None"),
    (dict(max_new_tokens=-1), "max_new_tokens", "is -1; it must be an integer >= 0"),
    (dict(idx=torch.zeros(1, 3)), "idx", "has shape (1, 3) and dtype torch.float32; pass a LongTensor of shape "
                                         "[batch, tokens]"),
    (dict(idx=torch.tensor([[1, 11]])), "idx", "contains the token id 11; ids must be in [0, 10] for this vocabulary"),
    (dict(idx=torch.tensor([[-1, 2]])), "idx", "contains the token id -1; ids must be in [0, 10] for this vocabulary"),
    (dict(idx=torch.zeros(1, 0, dtype=torch.long)), "idx",
     "is empty; the prompt needs at least one token (encode a newline to start from nothing)"),
])
@pytest.mark.parametrize("name", GENERATORS)
def test_generate_rejects_bad_arguments(name, arguments, field, message):
    model = build(name)
    call = dict(idx=prompt(), max_new_tokens=3) | arguments
    with pytest.raises(ValidationError) as caught:
        model.generate(**call)
    assert isinstance(caught.value, ZooError)
    assert [str(p) for p in caught.value.problems] == [f"generate: {field}: {message}"]


def test_generate_reports_every_bad_argument():
    with pytest.raises(ValidationError) as caught:
        build("gpt").generate(prompt(), 3, temperature=-1, top_k=0, top_p=2)
    assert [p.field for p in caught.value.problems] == ["temperature", "top_k", "top_p"]
    assert str(caught.value).startswith("3 problems found:")


@pytest.mark.parametrize("name", GENERATORS)
def test_generate_under_bf16_autocast(name):
    # The KV cache takes the dtype of the keys it receives, bf16 here.
    model = build(name)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model.generate(prompt(), 12, temperature=0)
    assert out.shape == (2, 15)
    assert out.dtype == torch.long


def test_gpt_activation_option_picks_gelu_form():
    shape = dict(n_layer=1, n_head=2, d_model=16, block_size=BLOCK)
    exact = build_gpt(GPTOptions(**shape), INFO)
    tanh = build_gpt(GPTOptions(**shape, activation="gelu_tanh"), INFO)
    assert exact.transformer.h[0].mlp.gelu.approximate == "none"
    assert tanh.transformer.h[0].mlp.gelu.approximate == "tanh"


@pytest.mark.parametrize("name", GENERATORS)
def test_generate_tiny_temperature_is_greedy(name):
    # logits / 1e-38 overflows float32; generation must still pick the most likely token.
    model = build(name)
    greedy = model.generate(prompt(), 10, temperature=0)
    tiny = model.generate(prompt(), 10, temperature=1e-38, generator=torch.Generator().manual_seed(1))
    assert torch.equal(tiny, greedy)


def test_context_limit_of_each_architecture():
    assert build("gpt").context_limit == BLOCK
    assert build("lstm").context_limit is None
    assert build("gru").context_limit is None
