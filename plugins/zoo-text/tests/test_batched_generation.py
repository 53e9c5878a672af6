"""Batched generation: left-padded prompts, per-row stop sequences, streaming callbacks, cache reuse."""

from __future__ import annotations

import pytest
import torch

from zoo_registry import ValidationError
from zoo_text._gpt import build_gpt
from zoo_text._rnn import build_gru, build_lstm
from zoo_text.options import GPTOptions, RNNOptions

VOCAB = 11
BLOCK = 8
PAD = 0
BUILDERS = {
    "gpt": (build_gpt, GPTOptions(n_layer=2, n_head=2, d_model=16, block_size=BLOCK)),
    "lstm": (build_lstm, RNNOptions(n_layer=2, d_model=16, block_size=BLOCK)),
    "gru": (build_gru, RNNOptions(n_layer=2, d_model=16, block_size=BLOCK)),
}
SAMPLINGS = {
    "greedy": dict(temperature=0),
    "sampled": dict(temperature=1.0),
    "top-k-top-p": dict(temperature=0.9, top_k=5, top_p=0.8),
}
# Lengths 2, 7 and 5: the batch is padded to 7 columns, and 12 new tokens run past block_size 8.
PROMPTS = [[3, 9], [1, 4, 1, 5, 9, 2, 6], [2, 7, 1, 8, 2]]
NEW = 12


def build(name: str) -> torch.nn.Module:
    """Return a model whose outputs depend strongly on the context.

    At their usual initialization these tiny models give nearly uniform logits that barely
    change with the prompt, so a lost or misplaced token would go unnoticed. Wider weight
    matrices make the outputs depend on every token.
    """
    builder, options = BUILDERS[name]
    torch.manual_seed(0)
    model = builder(options, {"vocab_size": VOCAB}).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() > 1:
                parameter.normal_(std=0.8)
    return model


def left_padded(prompts: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ids [B, T] and the attention mask [B, T] of ``prompts`` padded on the left."""
    width = max(len(p) for p in prompts)
    ids = torch.tensor([[PAD] * (width - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    return ids, mask


def generators(seeds: list[int]) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(seed) for seed in seeds]


@pytest.mark.parametrize("use_cache", [True, False], ids=["cached", "uncached"])
@pytest.mark.parametrize("sampling", SAMPLINGS.values(), ids=SAMPLINGS.keys())
@pytest.mark.parametrize("name", BUILDERS)
def test_batch_equals_each_prompt_alone(name, sampling, use_cache):
    model = build(name)
    ids, mask = left_padded(PROMPTS)
    batch = model.generate(ids, NEW, attention_mask=mask, generator=generators([10, 11, 12]),
                           use_cache=use_cache, **sampling)
    assert batch.shape == (3, ids.shape[1] + NEW)
    for row, tokens in enumerate(PROMPTS):
        alone = model.generate(torch.tensor([tokens]), NEW, generator=generators([10 + row]),
                               use_cache=use_cache, **sampling)
        assert batch[row, -NEW:].tolist() == alone[0, -NEW:].tolist(), f"row {row}"


@pytest.mark.parametrize("name", BUILDERS)
def test_batch_cached_equals_uncached(name):
    model = build(name)
    ids, mask = left_padded(PROMPTS)
    outputs = [model.generate(ids, NEW, attention_mask=mask, generator=generators([1, 2, 3]), use_cache=use_cache)
               for use_cache in (True, False)]
    assert torch.equal(outputs[0], outputs[1])


def test_gpt_padded_logits_equal_each_row_alone():
    model = build("gpt")
    ids, mask = left_padded(PROMPTS)
    with torch.no_grad():
        batch = model(ids, attention_mask=mask)  # [B, T, vocab]
        for row, tokens in enumerate(PROMPTS):
            alone = model(torch.tensor([tokens]))
            torch.testing.assert_close(batch[row, -len(tokens):], alone[0], rtol=1e-5, atol=1e-5)
    assert torch.isfinite(batch).all()  # padding queries attend to themselves, so no softmax row is empty


def test_gpt_mask_of_ones_equals_no_mask():
    model = build("gpt")
    ids = torch.tensor(PROMPTS[1:2])
    with torch.no_grad():
        torch.testing.assert_close(model(ids, attention_mask=torch.ones_like(ids)), model(ids), rtol=0, atol=1e-6)


def test_gpt_cache_buffers_are_allocated_once():
    # Prompt 2 + 6 new tokens fill the 8-position cache one step at a time, always in the same buffers.
    model = build("gpt")
    pointers = []

    def record(module, args, output):
        cache = args[1]
        pointers.append((cache.keys[0].data_ptr(), cache.values[-1].data_ptr(), cache.length))

    model.register_forward_hook(record)
    model.generate(torch.tensor([PROMPTS[0]]), 6, temperature=0)
    assert [length for _, _, length in pointers] == [2, 3, 4, 5, 6, 7]
    assert len({(keys, values) for keys, values, _ in pointers}) == 1


@pytest.mark.parametrize("name", BUILDERS)
def test_rows_stop_on_their_own(name):
    model = build(name)
    ids, mask = left_padded(PROMPTS)
    free = model.generate(ids, NEW, attention_mask=mask, temperature=0)[:, ids.shape[1]:]  # [B, NEW]
    stop_token = int(free[1, 2])  # row 1 stops at its third new token at the latest
    stopped = model.generate(ids, NEW, attention_mask=mask, temperature=0, stop=[[stop_token]],
                             pad_token_id=PAD)[:, ids.shape[1]:]
    ends = []
    for row in range(3):
        hits = (free[row] == stop_token).nonzero().flatten().tolist()
        ends.append(hits[0] + 1 if hits else NEW)
        assert stopped[row, :ends[-1]].tolist() == free[row, :ends[-1]].tolist(), f"row {row}"
        assert set(stopped[row, ends[-1]:].tolist()) <= {PAD}, f"row {row}"
    # Generation ends with the step at which the last row stopped.
    assert stopped.shape[1] == max(ends)


@pytest.mark.parametrize("name", BUILDERS)
def test_multi_token_stop_sequence_and_early_end(name):
    model = build(name)
    free = model.generate(torch.tensor([PROMPTS[0]]), NEW, temperature=0)[0, 2:].tolist()
    sequence = free[3:5]
    stopped = model.generate(torch.tensor([PROMPTS[0]]), NEW, temperature=0, stop=[sequence])[0, 2:].tolist()
    first = next(i for i in range(1, NEW) if free[i - 1:i + 1] == sequence)
    assert stopped == free[:first + 1]


def test_prompt_ending_with_stop_sequence_does_not_stop():
    model = build("gpt")
    prompt = torch.tensor([PROMPTS[1]])
    out = model.generate(prompt, 4, temperature=0, stop=[[PROMPTS[1][-1]]])
    free = model.generate(prompt, 4, temperature=0)
    first = free[0, prompt.shape[1]:].tolist()
    expected = first[:first.index(PROMPTS[1][-1]) + 1] if PROMPTS[1][-1] in first else first
    assert out[0, prompt.shape[1]:].tolist() == expected


@pytest.mark.parametrize("name", BUILDERS)
def test_on_step_streams_every_new_column(name):
    model = build(name)
    ids, mask = left_padded(PROMPTS)
    seen = []
    out = model.generate(ids, 5, attention_mask=mask, temperature=0, on_step=lambda tokens: seen.append(tokens))
    assert torch.equal(torch.stack(seen, dim=1), out[:, -5:])


@pytest.mark.parametrize("arguments, field, message", [
    (dict(attention_mask=torch.ones(2, 3, dtype=torch.long)), "attention_mask",
     "has shape (2, 3); it must have the prompt's shape (3, 7)"),
    (dict(attention_mask=torch.ones(3, 7)), "attention_mask",
     "has dtype torch.float32; use bool or integer values (1 for a token, 0 for padding)"),
    (dict(attention_mask=torch.full((3, 7), 2)), "attention_mask",
     "holds values other than 0 and 1; use 1 for a token and 0 for padding"),
    (dict(attention_mask=torch.tensor([[1] * 7, [1] * 6 + [0], [1] * 7])), "attention_mask",
     "row(s) [1] end with padding; pad prompts on the left, so that every row ends with its last token"),
    (dict(attention_mask=torch.tensor([[1] * 7, [0, 1, 0, 1, 1, 1, 1], [1] * 7])), "attention_mask",
     "row(s) [1] have padding after a token; put all padding on the left"),
    (dict(stop=[[]]), "stop[0]", "is []; each stop sequence must be a non-empty list of token ids in [0, 10]"),
    (dict(stop=[[3], [11]]), "stop[1]", "is [11]; each stop sequence must be a non-empty list of token ids in [0, 10]"),
    (dict(stop=["ab"]), "stop[0]", "is 'ab'; each stop sequence must be a non-empty list of token ids in [0, 10]"),
    (dict(pad_token_id=-1), "pad_token_id", "is -1; it must be a token id in [0, 10]"),
    (dict(generator=generators([1, 2])), "generator",
     "is a list of 2 generators for a batch of 3 prompts; pass one generator per prompt, or a single one"),
])
@pytest.mark.parametrize("name", BUILDERS)
def test_generate_rejects_bad_batch_arguments(name, arguments, field, message):
    ids, _ = left_padded(PROMPTS)
    with pytest.raises(ValidationError) as caught:
        build(name).generate(ids, 3, **arguments)
    assert [str(p) for p in caught.value.problems] == [f"generate: {field}: {message}"]
