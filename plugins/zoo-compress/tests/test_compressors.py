"""The compressors on real torch models, without a store: what each does to weights, shapes and outputs,
and the errors for input they cannot handle."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_model, save_model
from torch import nn

from zoo_registry import ZooError
from zoo_compress._distill import soft_target_loss
from zoo_compress._half import Half
from zoo_compress._int8 import Int8Dynamic, Int8Linear, Int8RNN
from zoo_compress._low_rank import LowRank, LowRankLinear
from zoo_compress._prune import Prune, prunable_weights
from zoo_compress._structure import find_groups, shrink, verify
from zoo_compress.options import (HalfOptions, Int8DynamicOptions, LowRankOptions, PruneOptions)
from zoo_text._gpt import GPT
from zoo_text.options import GPTOptions

from zoo_registry import ValidationError


def tiny_gpt(tie: bool = True) -> GPT:
    torch.manual_seed(0)
    return GPT(GPTOptions(n_layer=2, n_head=2, d_model=16, block_size=8, tie_weights=tie), vocab_size=11).eval()


def tiny_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Sequential(nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2)),
        nn.Sequential(nn.Conv2d(8, 6, 3, padding=1, bias=False), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2)),
        nn.Sequential(nn.Flatten(), nn.Linear(6 * 2 * 2, 10)),
    ).eval()


class FakeContext:
    """Mock of zoo compress's context for tests that need no training: it only hands out a batch."""

    def __init__(self, inputs: torch.Tensor):
        self.inputs = inputs

    def batches(self, split: str = "val", count: int = 1) -> list[tuple]:
        return [(self.inputs,)]


def test_int8_linear_close_to_float():
    torch.manual_seed(0)
    linear = nn.Linear(64, 32)
    quantized = Int8Linear.from_float(linear, per_channel=True)
    x = torch.randn(4, 5, 64)
    assert quantized(x).shape == (4, 5, 32)
    assert torch.allclose(quantized(x), linear(x), atol=0.05)
    assert quantized.weight_int8.dtype == torch.int8
    assert torch.equal(quantized.weight_zero_point, torch.zeros(32, dtype=torch.int64))


@pytest.mark.parametrize("cell", [nn.LSTM, nn.GRU])
def test_int8_rnn_close_to_float(cell):
    torch.manual_seed(0)
    rnn = cell(12, 20, num_layers=2, batch_first=True)
    quantized = Int8RNN.from_float(rnn, per_channel=True)
    x = torch.randn(3, 7, 12)
    expected, expected_state = rnn(x)
    actual, state = quantized(x)
    assert torch.allclose(actual, expected, atol=0.02)
    # The carried state continues the sequence as the float layer's does.
    assert torch.allclose(quantized(x, state)[0], rnn(x, expected_state)[0], atol=0.02)


def test_int8_state_dict_is_plain_tensors(tmp_path):
    model = Int8Dynamic(Int8DynamicOptions()).apply(tiny_gpt())
    path = tmp_path / "model.safetensors"
    save_model(model, str(path))
    fresh = Int8Dynamic(Int8DynamicOptions()).restore(tiny_gpt(), {})
    assert load_model(fresh, str(path)) == (set(), [])
    idx = torch.randint(0, 11, (2, 8))
    assert torch.equal(fresh(idx), model(idx))
    dtypes = {t.dtype for t in model.state_dict().values()}
    assert dtypes == {torch.float32, torch.int8, torch.int64}


def test_int8_keeps_tied_output_layer_float():
    model = Int8Dynamic(Int8DynamicOptions()).apply(tiny_gpt(tie=True))
    assert type(model.lm_head) is nn.Linear
    assert type(model.transformer.h[0].mlp.c_fc) is Int8Linear
    untied = Int8Dynamic(Int8DynamicOptions()).apply(tiny_gpt(tie=False))
    assert type(untied.lm_head) is Int8Linear


def test_int8_generate_uses_quantized_layers():
    model = Int8Dynamic(Int8DynamicOptions(skip=["*.attn.*"])).apply(tiny_gpt())
    assert type(model.transformer.h[0].attn.c_attn) is nn.Linear
    out = model.generate(torch.zeros(1, 1, dtype=torch.long), 5, temperature=0)
    assert out.shape == (1, 6)


def test_int8_rejects_model_without_layers():
    model = nn.Sequential(nn.Embedding(5, 4), nn.Conv1d(4, 4, 1))
    with pytest.raises(ZooError) as caught:
        Int8Dynamic(Int8DynamicOptions()).check(model, {})
    assert str(caught.value) == (
        "int8-dynamic found no layer to quantize in Sequential: it quantizes nn.Linear, nn.LSTM and nn.GRU layers "
        "(options layers=['linear', 'lstm', 'gru'], skip=[]); use another compressor such as half, or change "
        "layers and skip")


def test_int8_options_reject_unknown_layer_kind():
    with pytest.raises(ValidationError) as caught:
        Int8DynamicOptions(layers=["conv"])
    assert str(caught.value.problems[0]) == "recipe: compress.layers: contains ['conv']; use any of linear, lstm, gru"


def test_prune_unstructured_global_exact_sparsity():
    model = tiny_gpt()
    embedding = model.transformer.wte.weight.detach().clone()
    Prune(PruneOptions(sparsity=0.5)).apply(model, None)
    weights = [p for _, p in prunable_weights(model, [])]
    total = sum(p.numel() for p in weights)
    zeros = sum(int((p == 0).sum()) for p in weights)
    assert zeros == round(total * 0.5)
    # The embedding, tied to the output layer, is never pruned.
    assert torch.equal(model.transformer.wte.weight, embedding)


def test_prune_layer_scope_prunes_each_matrix():
    model = tiny_gpt()
    Prune(PruneOptions(sparsity=0.25, scope="layer")).apply(model, None)
    for name, parameter in prunable_weights(model, []):
        assert int((parameter == 0).sum()) == round(parameter.numel() * 0.25), name


def test_prune_skip_keeps_layers_dense():
    model = tiny_gpt()
    Prune(PruneOptions(sparsity=0.5, skip=["*.attn.*"])).apply(model, None)
    assert int((model.transformer.h[0].attn.c_attn.weight == 0).sum()) == 0
    assert int((model.transformer.h[0].mlp.c_fc.weight == 0).sum()) > 0


@pytest.mark.parametrize("sparsity", [0.0, 1.0, -0.2, 1.5])
def test_prune_rejects_sparsity_outside_open_interval(sparsity):
    with pytest.raises(ZooError) as caught:
        Prune(PruneOptions(sparsity=sparsity)).check(tiny_gpt(), {})
    assert str(caught.value) == (f"prune sparsity={sparsity!r} is outside (0, 1): it is the fraction of weights to "
                                 f"remove, so use a value such as 0.5")


def test_structured_groups_of_gpt_are_mlp_neurons():
    model = tiny_gpt()
    groups = find_groups(model, [], {id(model.lm_head.weight)})
    assert [(g.producer, g.reader) for g in groups] == [
        ("transformer.h.0.mlp.c_fc", "transformer.h.0.mlp.c_proj"),
        ("transformer.h.1.mlp.c_fc", "transformer.h.1.mlp.c_proj"),
    ]


def test_structured_groups_of_cnn_cover_channels_and_flatten():
    model = tiny_cnn()
    groups = find_groups(model, [], set())
    assert [(g.producer, g.reader, g.norms, g.columns) for g in groups] == [
        ("0.0", "1.0", ["0.1"], 1),
        ("1.0", "2.1", ["1.1"], 4),
    ]


def test_structured_prune_shrinks_cnn_tensors():
    model = tiny_cnn()
    x = torch.randn(3, 1, 8, 8)
    Prune(PruneOptions(sparsity=0.5, method="structured")).apply(model, FakeContext(x))
    assert model[0][0].weight.shape == (4, 1, 3, 3)
    assert model[0][1].running_mean.shape == (4,)
    assert model[1][0].weight.shape == (3, 4, 3, 3)
    assert model[2][1].weight.shape == (10, 12)
    assert model(x).shape == (3, 10)


def test_structured_cut_equals_masked_reader():
    model = tiny_cnn()
    x = torch.randn(2, 1, 8, 8)
    (first, _) = find_groups(model, [], set())
    assert verify(model, first, torch.tensor([0, 2, 5]), x)


def test_structured_verify_rejects_output_used_elsewhere():
    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(6, 6)
            self.b = nn.Linear(6, 6)

        def forward(self, x):
            h = self.a(x)
            return self.b(h) + h  # h is read by b and by the residual sum

    model = Residual().eval()
    (group,) = find_groups(model, [], set())
    assert not verify(model, group, torch.tensor([0, 1, 2]), torch.randn(4, 6))


def test_structured_rejects_recurrent_model():
    model = nn.Sequential(nn.Embedding(5, 4), nn.LSTM(4, 4, batch_first=True))
    with pytest.raises(ZooError) as caught:
        Prune(PruneOptions(method="structured")).check(model, {})
    assert str(caught.value) == (
        "prune method=structured found no layers to shrink in Sequential: it removes output neurons of an nn.Linear "
        "or channels of an nn.Conv that reach the next layer of the same kind only through activations, dropout, "
        "batch norm or pooling; use method=unstructured")


def test_structured_scope_layer_is_invalid():
    with pytest.raises(ValidationError) as caught:
        PruneOptions(method="structured", scope="layer")
    assert "structured pruning always prunes each layer to the sparsity" in str(caught.value)


def test_shrink_restores_recorded_shapes():
    model = tiny_gpt()
    options = PruneOptions(sparsity=0.5, method="structured")
    Prune(options).apply(model, FakeContext(torch.randint(0, 11, (2, 8))))
    assert [r["kept"] for r in options.pruned_units] == [32, 32]
    fresh = Prune(options).restore(tiny_gpt(), {})
    assert fresh.transformer.h[1].mlp.c_fc.weight.shape == (32, 16)
    assert fresh.transformer.h[1].mlp.c_proj.weight.shape == (16, 32)


def test_low_rank_factor_product_is_truncated_svd():
    torch.manual_seed(0)
    linear = nn.Linear(12, 10)
    u, s, vh = torch.linalg.svd(linear.weight.detach(), full_matrices=False)
    factorized = LowRankLinear.from_linear(linear, 3, u, s, vh)
    expected = (u[:, :3] * s[:3]) @ vh[:3]
    assert torch.allclose(factorized.weight, expected, atol=1e-5)
    x = torch.randn(2, 12)
    assert torch.allclose(factorized(x), x @ expected.T + linear.bias, atol=1e-5)


def test_low_rank_energy_picks_rank_per_layer():
    model = tiny_gpt()
    options = LowRankOptions(energy=0.5)
    LowRank(options).apply(model, None)
    assert options.ranks
    for name, rank in options.ranks.items():
        module = model.get_submodule(name)
        assert isinstance(module, LowRankLinear)
        assert module.rank == rank
        assert rank * (module.in_features + module.out_features) < module.in_features * module.out_features


def test_low_rank_rejects_rank_larger_than_layer():
    with pytest.raises(ZooError) as caught:
        LowRank(LowRankOptions(rank=17, skip=["*.attn.*", "*.mlp.*"])).check(tiny_gpt(tie=False), {})
    assert str(caught.value) == (
        "low-rank rank=17 is larger than lm_head (11 x 16, max rank 11); a rank can be at most the smaller side of "
        "the weight matrix, so lower rank or add these layers to skip")


def test_low_rank_needs_rank_or_energy():
    with pytest.raises(ValidationError) as caught:
        LowRankOptions(rank=4, energy=0.9)
    assert str(caught.value.problems[0]) == ("recipe: compress.rank: both of rank and energy is set; set exactly "
                                             "one, for example rank: 32 or energy: 0.9")


def test_half_casts_weights_and_inputs():
    model = Half(HalfOptions(dtype="bf16")).apply(tiny_cnn())
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    assert model(torch.randn(2, 1, 8, 8)).dtype == torch.bfloat16


def test_half_rejects_model_already_half():
    model = tiny_cnn().to(torch.float16)
    with pytest.raises(ZooError) as caught:
        Half(HalfOptions()).check(model, {})
    assert str(caught.value) == ("half found no float32 parameters in Sequential to cast to bf16; it may already be "
                                 "in half precision or quantized")


def test_soft_target_loss_zero_only_for_equal_logits():
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 7)
    assert float(soft_target_loss(logits, logits, 2.0)) == pytest.approx(0.0, abs=1e-6)
    assert float(soft_target_loss(logits, torch.randn(2, 5, 7), 2.0)) > 0.01
