"""Recipe options of the zoo-vision components.

This module must not import torch, because ``zoo validate`` and ``zoo list``
read these classes without building anything. Checks that involve more than
one field run in ``__post_init__`` and raise ``ValidationError`` naming the
recipe field at fault. Checks that need the dataset (the image size against
the number of pooling blocks) run when the model is built.
"""

from __future__ import annotations

from dataclasses import dataclass

from zoo_registry import Problem, ValidationError, option

ACTIVATIONS = ("relu", "gelu", "silu")
NORMS = ("batch", "group", "none")
POOLINGS = ("max", "avg", "none")
RESIZE_MODES = ("stretch", "center-crop")

# Problems found here carry no file and line, because the options object
# receives only values. The field path still names what to change.
_WHERE = "recipe"


def _problem(section: str, name: str, message: str) -> Problem:
    return Problem(_WHERE, f"{section}.{name}", message)


def _group_problems(section: str, norm: str, norm_groups: int, channels: list[int], field: str) -> list[Problem]:
    if norm != "group":
        return []
    bad = [c for c in channels if c % norm_groups]
    if not bad:
        return []
    return [_problem(section, "norm_groups", f"{norm_groups} does not divide the channel counts {bad} of {field}; "
                     f"group norm splits each layer's channels into equal groups, so pick a divisor of every "
                     f"channel count or use norm: batch")]


def _split_problems(section: str, val_fraction: float, test_fraction: float) -> list[Problem]:
    if val_fraction + test_fraction < 1:
        return []
    return [_problem(section, "test_fraction",
                     f"val_fraction {val_fraction} plus test_fraction {test_fraction} leaves no training images; "
                     f"keep their sum below 1, e.g. val_fraction: 0.1 and test_fraction: 0.2")]


def _raise(problems: list[Problem]) -> None:
    if problems:
        raise ValidationError(problems)


@dataclass
class CNNOptions:
    """A stack of conv → norm → activation → pooling blocks followed by a classifier head."""

    channels: list[int] = option([32, 64, 128], help="Output channels of each conv block; one block per entry.")
    kernel_sizes: list[int] = option([3, 3, 3], help="Odd kernel size of each conv block; one entry per channels entry.")
    norm: str = option("batch", help="Normalization after each convolution.", choices=NORMS)
    norm_groups: int = option(8, help="Groups of group normalization; must divide every channel count.", min=1)
    activation: str = option("relu", help="Activation after each normalization.", choices=ACTIVATIONS)
    pooling: str = option("max", help="2x2 pooling with stride 2 at the end of each block, halving height and width.",
                          choices=POOLINGS)
    global_pool: bool = option(False, help="Average each final feature map to one value before the head, so the head "
                                           "does not depend on the image size; false flattens the feature maps.")
    hidden_size: int = option(0, help="Width of a hidden layer in the classifier head; 0 means one linear layer.", min=0)
    dropout: float = option(0.0, help="Dropout probability before each linear layer of the head.", min=0, max=1,
                            max_exclusive=True)

    def __post_init__(self) -> None:
        problems = []
        if not self.channels:
            problems.append(_problem("model", "channels", "is empty; give at least one block, e.g. channels: [32, 64]"))
        if len(self.kernel_sizes) != len(self.channels):
            problems.append(_problem(
                "model", "kernel_sizes",
                f"has {len(self.kernel_sizes)} entries but channels has {len(self.channels)}; give one kernel size "
                f"per conv block, e.g. kernel_sizes: {[3] * len(self.channels)}"))
        bad_channels = [c for c in self.channels if c < 1]
        if bad_channels:
            problems.append(_problem("model", "channels", f"contains {bad_channels}; every channel count must be >= 1"))
        bad_kernels = [k for k in self.kernel_sizes if k < 1 or k % 2 == 0]
        if bad_kernels:
            problems.append(_problem("model", "kernel_sizes",
                                     f"contains {bad_kernels}; use odd sizes >= 1 (1, 3, 5, ...) so the padding "
                                     f"keeps height and width"))
        problems += _group_problems("model", self.norm, self.norm_groups, self.channels, "channels")
        _raise(problems)


@dataclass
class ResNetOptions:
    """A small residual network: a 3x3 stem and stages of basic blocks, for 8x8 to 64x64 images."""

    blocks: list[int] = option([2, 2, 2], help="Residual blocks per stage; each stage after the first halves height "
                                               "and width and doubles the channels.")
    width: int = option(32, help="Channels of the stem and the first stage.", min=1)
    stem_stride: int = option(1, help="Stride of the stem convolution; 2 halves large inputs (such as 64x64) early.",
                              choices=(1, 2))
    norm: str = option("batch", help="Normalization after each convolution.", choices=NORMS)
    norm_groups: int = option(8, help="Groups of group normalization; must divide the channels of every stage.", min=1)
    activation: str = option("relu", help="Activation inside and after each block.", choices=ACTIVATIONS)
    dropout: float = option(0.0, help="Dropout probability before the classifier.", min=0, max=1, max_exclusive=True)

    def __post_init__(self) -> None:
        problems = []
        if not self.blocks:
            problems.append(_problem("model", "blocks", "is empty; give at least one stage, e.g. blocks: [2, 2]"))
        bad_blocks = [b for b in self.blocks if b < 1]
        if bad_blocks:
            problems.append(_problem("model", "blocks", f"contains {bad_blocks}; every stage needs at least 1 block"))
        stage_channels = [self.width * 2**i for i in range(len(self.blocks))]
        problems += _group_problems("model", self.norm, self.norm_groups, stage_channels, "the stages (width doubled per stage)")
        _raise(problems)


@dataclass
class DigitsOptions:
    """scikit-learn's bundled 8x8 digits, split into train, validation and test sets by class."""

    split_seed: int = option(0, help="Seed of the stratified train/val/test split; change it for a different split.")
    val_fraction: float = option(0.1, help="Fraction of each class held out for validation.", min=0, max=1,
                                 min_exclusive=True, max_exclusive=True)
    test_fraction: float = option(0.2, help="Fraction of each class held out for the final test.", min=0, max=1,
                                  max_exclusive=True)
    random_shift: int = option(0, help="Training augmentation: shift each image by up to this many pixels in each "
                                       "direction, filling with background; 0 disables.", min=0, max=4)

    def __post_init__(self) -> None:
        _raise(_split_problems("data", self.val_fraction, self.test_fraction))


@dataclass
class ImageFolderOptions:
    """Images in one sub-folder per class, read with Pillow, resized and normalized."""

    root: str = option(help="Folder with one sub-folder of images per class, named after the class; a relative "
                            "path is resolved against the current folder.")
    image_size: int = option(32, help="Height and width, in pixels, that every image is resized to.", min=1)
    channels: int = option(3, help="1 reads images as grayscale, 3 as RGB.", choices=(1, 3))
    resize: str = option("stretch", help="stretch resizes to a square ignoring the aspect ratio; center-crop resizes "
                                         "the shorter side and cuts the middle square.", choices=RESIZE_MODES)
    mean: list[float] | None = option(None, help="Per-channel mean subtracted after scaling pixels to [0, 1]; null "
                                                 "computes it on the training split.")
    std: list[float] | None = option(None, help="Per-channel standard deviation divided by after subtracting the "
                                                "mean; null computes it on the training split.")
    horizontal_flip: bool = option(False, help="Training augmentation: mirror half of the images left to right.")
    random_crop_padding: int = option(0, help="Training augmentation: pad by this many pixels, then crop a random "
                                              "image_size square; 0 disables.", min=0)
    rotation_degrees: float = option(0.0, help="Training augmentation: rotate by a random angle in "
                                               "[-degrees, degrees]; 0 disables.", min=0, max=180)
    skip_corrupt: bool = option(False, help="Skip unreadable images with a warning; false stops before training and "
                                            "lists every unreadable file.")
    split_seed: int = option(0, help="Seed of the stratified train/val/test split; change it for a different split.")
    val_fraction: float = option(0.1, help="Fraction of each class held out for validation.", min=0, max=1,
                                 min_exclusive=True, max_exclusive=True)
    test_fraction: float = option(0.2, help="Fraction of each class held out for the final test.", min=0, max=1,
                                  max_exclusive=True)

    def __post_init__(self) -> None:
        problems = _split_problems("data", self.val_fraction, self.test_fraction)
        for name in ("mean", "std"):
            values = getattr(self, name)
            if values is not None and len(values) != self.channels:
                problems.append(_problem("data", name, f"has {len(values)} values but channels is {self.channels}; "
                                                       f"give one value per channel"))
        if self.std is not None and any(s <= 0 for s in self.std):
            problems.append(_problem("data", "std", f"contains {[s for s in self.std if s <= 0]}; every standard "
                                                    f"deviation must be > 0"))
        _raise(problems)


@dataclass
class ClassificationOptions:
    """Cross-entropy training of an image classifier, with accuracy, precision and recall for evaluation."""

    label_smoothing: float = option(0.0, help="Share of the target probability spread evenly over all classes in the "
                                              "training loss; evaluation loss is plain cross-entropy.", min=0, max=1,
                                    max_exclusive=True)
    top_k: int = option(3, help="k of the top-k accuracy metric; clamped to the number of classes.", min=1)
    per_class_metrics: bool = option(False, help="Also report precision_<i> and recall_<i> for every class index i; "
                                                 "the confusion-matrix plot shows them either way.")


__all__ = ["CNNOptions", "ClassificationOptions", "DigitsOptions", "ImageFolderOptions", "ResNetOptions"]
