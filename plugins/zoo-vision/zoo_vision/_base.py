"""Shared base of the digits and image-folder datasets: the split, the item tensors and the artifacts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from zoo_registry import DataError

from ._augment import Augment
from ._preprocess import Preprocessing

SPLITS = ("train", "val", "test")
_EMPTY_SPLIT_HINTS = {
    "val": "; every class is too small for data.val_fraction to hold out an image, so raise it or add images",
    "test": "; set data.test_fraction above 0 (and high enough for the class sizes) to hold out a test split",
}


def stratified_split(labels: np.ndarray, val_fraction: float, test_fraction: float, seed: int) -> dict[str, np.ndarray]:
    """Return sorted example indices of each split, taking the fractions from every class separately.

    Each class is shuffled with ``seed``. Its first ``round(n * test_fraction)``
    examples go to test, the next ``round(n * val_fraction)`` to val and the
    rest to train, so the split depends only on the labels and the seed.
    """
    generator = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in SPLITS}
    for label in np.unique(labels):
        members = generator.permutation(np.flatnonzero(labels == label))
        n_test = int(round(len(members) * test_fraction))
        n_val = int(round(len(members) * val_fraction))
        parts["test"].append(members[:n_test])
        parts["val"].append(members[n_test:n_test + n_val])
        parts["train"].append(members[n_test + n_val:])
    return {name: np.sort(np.concatenate(chunks)).astype(np.int64) for name, chunks in parts.items()}


class ImageSplit(torch.utils.data.Dataset):
    """One split as ``(image, label)`` items: a normalized float (C, H, W) tensor and an int64 scalar.

    The runner fetches items one at a time, and per-item work adds up on small
    images. So without augmentation every image is normalized once, up front,
    and with it the pixels are scaled to [0, 1] once.
    """

    def __init__(self, pixels: torch.Tensor, labels: torch.Tensor, scale: float, preprocessing: Preprocessing,
                 augment: Augment | None = None):
        self.pixels = pixels
        self.labels = labels
        self.scale = scale
        self.preprocessing = preprocessing
        self.augment = augment
        scaled = pixels.float() / scale
        self._images = preprocessing.normalize(scaled) if augment is None else scaled

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self.augment is None:
            return self._images[index], self.labels[index]
        return self.preprocessing.normalize(self.augment(self._images[index])), self.labels[index]


@dataclass
class LoadedImages:
    """Decoded images of a dataset: pixels in [0, scale], labels and the sha256 of the source data."""

    pixels: torch.Tensor
    """uint8 (N, C, H, W)."""
    labels: torch.Tensor
    """int64 (N,)."""
    scale: float
    fingerprint: dict[str, str]


class ImageClassificationData:
    """Base of the image datasets; subclasses read the images and name their classes and preprocessing.

    Subclasses implement ``_load``, ``_class_names`` and ``_preprocessing_without_statistics``
    and set ``val_fraction``, ``test_fraction``, ``split_seed`` and ``augment``.
    """

    val_fraction: float
    test_fraction: float
    split_seed: int
    augment: Augment | None = None

    def __init__(self, artifacts: str | Path | None = None):
        self._stored = Preprocessing.read(artifacts) if artifacts is not None else None
        self._loaded: LoadedImages | None = None
        self._indices: dict[str, np.ndarray] | None = None
        self._preprocessing: Preprocessing | None = self._stored
        self._splits: dict[str, ImageSplit] = {}

    # Subclass hooks.

    def _load(self) -> LoadedImages:
        raise NotImplementedError

    def _class_names(self) -> list[str]:
        raise NotImplementedError

    def _preprocessing_without_statistics(self) -> Preprocessing:
        """Return the preprocessing with ``mean`` and ``std`` from the options, each None when the training split sets it."""
        raise NotImplementedError

    # The Dataset protocol.

    @property
    def class_names(self) -> list[str]:
        """Class name of each label index, in label order."""
        return list(self._stored.class_names) if self._stored is not None else self._class_names()

    def info(self) -> dict[str, Any]:
        """Return num_classes, class_names, in_channels and image_size; reads no image."""
        preprocessing = self._stored or self._preprocessing_without_statistics()
        return {"num_classes": len(preprocessing.class_names), "class_names": list(preprocessing.class_names),
                "in_channels": preprocessing.in_channels, "image_size": preprocessing.image_size}

    def splits(self) -> list[str]:
        indices = self._split_indices()
        return [name for name in SPLITS if len(indices[name])]

    def split(self, name: str, block_size: int | None = None) -> ImageSplit:
        """Return the split ``train``, ``val`` or ``test``; ``block_size`` is ignored."""
        if name not in self._splits:
            available = self.splits()
            if name not in available:
                raise DataError(f"split {name!r} does not exist; this dataset has {', '.join(available)}"
                                + _EMPTY_SPLIT_HINTS.get(name, ""))
            loaded = self._load_once()
            index = torch.from_numpy(self._split_indices()[name])
            augment = self.augment if name == "train" else None
            self._splits[name] = ImageSplit(loaded.pixels[index], loaded.labels[index], loaded.scale,
                                            self.preprocessing(), augment)
        return self._splits[name]

    def collate(self, items: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Stack items into ``(images (B, C, H, W) float32, labels (B,) int64)``."""
        images = torch.stack([image for image, _ in items])
        labels = torch.stack([label for _, label in items])
        return images, labels

    def save_artifacts(self, folder: Path) -> list[str]:
        """Write ``preprocessing.json`` (class names, image size, resizing, normalization) for ``zoo predict``."""
        return [self.preprocessing().write(Path(folder))]

    def fingerprint(self) -> dict[str, str]:
        return dict(self._load_once().fingerprint)

    # Prediction.

    def load_image(self, path: str | Path) -> torch.Tensor:
        """Read an image file and preprocess it as in training; return float (in_channels, image_size, image_size).

        Works from the artifacts alone when the dataset was built with them.
        Raise ``DataError`` naming the file when it cannot be read or decoded.
        """
        return self.preprocessing().load_image(path)

    def preprocessing(self) -> Preprocessing:
        """Return the full preprocessing, computing mean and std on the training split when the options leave them out."""
        if self._preprocessing is None:
            partial = self._preprocessing_without_statistics()
            if partial.mean is None or partial.std is None:
                train = self._load_once().pixels[torch.from_numpy(self._split_indices()["train"])]
                mean, std = channel_statistics(train, self._load_once().scale)
                partial.mean = partial.mean if partial.mean is not None else mean
                partial.std = partial.std if partial.std is not None else std
            self._preprocessing = partial
        return self._preprocessing

    # Helpers.

    def _load_once(self) -> LoadedImages:
        if self._loaded is None:
            loaded = self._load()
            if self._stored is not None and self._class_names() != self._stored.class_names:
                raise DataError(f"the data has the classes {self._class_names()} but the entry was trained on "
                                f"{self._stored.class_names}; point the recipe at the data it was trained on")
            self._loaded = loaded
        return self._loaded

    def _split_indices(self) -> dict[str, np.ndarray]:
        if self._indices is None:
            labels = self._load_once().labels.numpy()
            self._indices = stratified_split(labels, self.val_fraction, self.test_fraction, self.split_seed)
        return self._indices


def channel_statistics(pixels: torch.Tensor, scale: float) -> tuple[list[float], list[float]]:
    """Return per-channel mean and standard deviation of uint8 (N, C, H, W) pixels scaled to [0, 1]."""
    values = pixels.double().div(scale).transpose(0, 1).reshape(pixels.shape[1], -1)  # (N, C, H, W) -> (C, N*H*W)
    mean = values.mean(dim=1)
    std = values.std(dim=1).clamp_min(1e-6)  # a constant channel would otherwise divide by zero
    return [round(float(m), 6) for m in mean], [round(float(s), 6) for s in std]
