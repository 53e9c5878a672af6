"""The cnn and resnet architectures: shapes, gradients, sizing from the dataset info, and option checks."""

from __future__ import annotations

import pytest
import torch

from zoo_registry import ValidationError
from zoo_vision.cnn import build_cnn
from zoo_vision.options import CNNOptions, ResNetOptions
from zoo_vision.resnet import build_resnet

# (in_channels, image_size, num_classes): digits-like, RGB, and the largest size the resnet targets.
SHAPES = [(1, 8, 10), (3, 16, 4), (3, 32, 7), (1, 64, 2)]

CNN_VARIANTS = {
    "default": CNNOptions(),
    "group-gelu-avg": CNNOptions(channels=[8, 16], kernel_sizes=[5, 3], norm="group", norm_groups=4,
                                 activation="gelu", pooling="avg", hidden_size=12, dropout=0.2),
    "no-norm-no-pool-global": CNNOptions(channels=[6], kernel_sizes=[1], norm="none", pooling="none",
                                         global_pool=True, activation="silu"),
}
RESNET_VARIANTS = {
    "default": ResNetOptions(blocks=[1, 1], width=8),
    "group-stride2": ResNetOptions(blocks=[2, 1, 1], width=8, stem_stride=2, norm="group", norm_groups=4,
                                   activation="silu", dropout=0.1),
    "no-norm": ResNetOptions(blocks=[1], width=4, norm="none"),
}


def _info(in_channels: int, image_size: int, num_classes: int) -> dict:
    return {"in_channels": in_channels, "image_size": image_size, "num_classes": num_classes,
            "class_names": [str(i) for i in range(num_classes)]}


def _check_forward_backward(model: torch.nn.Module, in_channels: int, image_size: int, num_classes: int) -> None:
    torch.manual_seed(0)
    images = torch.randn(3, in_channels, image_size, image_size)
    logits = model(images)
    assert logits.shape == (3, num_classes)
    assert torch.isfinite(logits).all()
    logits.logsumexp(dim=1).sum().backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None]
    assert missing == []


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("variant", CNN_VARIANTS, ids=str)
def test_cnn_forward_backward(variant, shape):
    model = build_cnn(CNN_VARIANTS[variant], _info(*shape))
    _check_forward_backward(model, *shape)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("variant", RESNET_VARIANTS, ids=str)
def test_resnet_forward_backward(variant, shape):
    model = build_resnet(RESNET_VARIANTS[variant], _info(*shape))
    _check_forward_backward(model, *shape)


def test_cnn_head_size_follows_image_size():
    options = CNNOptions(channels=[4, 8], kernel_sizes=[3, 3])
    # Two 2x2 poolings: 16x16 -> 4x4, 32x32 -> 8x8, so the flattened head grows fourfold.
    small = build_cnn(options, _info(1, 16, 3)).head[-1]
    large = build_cnn(options, _info(1, 32, 3)).head[-1]
    assert small.in_features == 8 * 4 * 4
    assert large.in_features == 8 * 8 * 8


def test_cnn_global_pool_head_ignores_image_size():
    model = build_cnn(CNNOptions(channels=[4, 8], kernel_sizes=[3, 3], global_pool=True), _info(3, 16, 5))
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 5)
    assert model(torch.randn(2, 3, 40, 40)).shape == (2, 5)


def test_cnn_first_layer_reads_info_channels():
    model = build_cnn(CNNOptions(), _info(3, 8, 10))
    assert model.features[0][0].in_channels == 3


def test_resnet_stage_widths_double():
    model = build_resnet(ResNetOptions(blocks=[1, 2, 1], width=8), _info(1, 8, 10))
    widths = [stage[-1].conv2.out_channels for stage in model.stages]
    assert widths == [8, 16, 32]
    assert len(model.stages[1]) == 2
    assert model.head[-1].out_features == 10


def test_resnet_blocks_start_as_identity():
    model = build_resnet(ResNetOptions(blocks=[1], width=4), _info(1, 8, 3)).eval()
    block = model.stages[0][0]
    x = torch.rand(2, 4, 8, 8)  # non-negative, so ReLU(x) == x
    assert torch.equal(block(x), x)


def test_cnn_too_many_poolings_error():
    with pytest.raises(ValidationError) as error:
        build_cnn(CNNOptions(channels=[4, 4, 4, 4, 4], kernel_sizes=[3] * 5), _info(1, 8, 10))
    assert str(error.value) == (
        "1 problem found:\n  recipe: model.channels: block 4 of 5 would pool a 1x1 feature map, because each block "
        "halves the 8x8 input; use fewer blocks, larger images or pooling: none")


def test_cnn_info_without_image_keys_error():
    with pytest.raises(ValidationError) as error:
        build_cnn(CNNOptions(), {"vocab_size": 65})
    assert str(error.value) == (
        "1 problem found:\n  recipe: data.dataset: the dataset's info() lacks in_channels, image_size, num_classes, "
        "which the cnn architecture needs; use an image dataset such as digits or image-folder")


def test_cnn_options_unequal_lists_error():
    with pytest.raises(ValidationError) as error:
        CNNOptions(channels=[16, 32, 64], kernel_sizes=[3, 3])
    assert str(error.value) == (
        "1 problem found:\n  recipe: model.kernel_sizes: has 2 entries but channels has 3; give one kernel size per "
        "conv block, e.g. kernel_sizes: [3, 3, 3]")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"channels": [], "kernel_sizes": []},
     "model.channels: is empty; give at least one block, e.g. channels: [32, 64]"),
    ({"channels": [8, 0], "kernel_sizes": [3, 3]}, "model.channels: contains [0]; every channel count must be >= 1"),
    ({"channels": [8, 8], "kernel_sizes": [3, 4]},
     "model.kernel_sizes: contains [4]; use odd sizes >= 1 (1, 3, 5, ...) so the padding keeps height and width"),
    ({"channels": [8, 12], "kernel_sizes": [3, 3], "norm": "group", "norm_groups": 8},
     "model.norm_groups: 8 does not divide the channel counts [12] of channels; group norm splits each layer's "
     "channels into equal groups, so pick a divisor of every channel count or use norm: batch"),
])
def test_cnn_options_invalid_values(kwargs, message):
    with pytest.raises(ValidationError) as error:
        CNNOptions(**kwargs)
    assert f"recipe: {message}" in str(error.value)


def test_resnet_options_invalid_values():
    with pytest.raises(ValidationError) as error:
        ResNetOptions(blocks=[2, 0], width=12, norm="group", norm_groups=8)
    assert str(error.value) == (
        "2 problems found:\n"
        "  recipe: model.blocks: contains [0]; every stage needs at least 1 block\n"
        "  recipe: model.norm_groups: 8 does not divide the channel counts [12] of the stages (width doubled per "
        "stage); group norm splits each layer's channels into equal groups, so pick a divisor of every channel "
        "count or use norm: batch")
