"""The ``image-folder`` dataset: one sub-folder of images per class, read with Pillow."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import torch

from zoo_registry import DataError

from ._augment import build_augment
from ._base import ImageClassificationData, LoadedImages
from ._preprocess import Preprocessing, read_bytes, read_image
from .options import ImageFolderOptions

logger = logging.getLogger(__name__)

# The suffixes that torchvision's ImageFolder accepts; other files in a class folder are ignored.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"})
_LISTED_PATHS = 20


class ImageFolderDataset(ImageClassificationData):
    """Images under ``root/<class name>/``, resized to ``image_size`` squares and normalized per channel.

    Every image is decoded once, on first use, and kept in memory as uint8,
    so an unreadable file is found before training starts.
    """

    def __init__(self, options: ImageFolderOptions, artifacts: str | Path | None = None):
        super().__init__(artifacts)
        self.options = options
        self.root = Path(options.root).expanduser()
        self._names: list[str] | None = None
        self.val_fraction = options.val_fraction
        self.test_fraction = options.test_fraction
        self.split_seed = options.split_seed
        self.augment = build_augment(options.horizontal_flip, options.random_crop_padding, options.rotation_degrees)
        if self._stored is not None:
            self._check_stored()

    def _check_stored(self) -> None:
        stored = self._stored
        expected = {"image_size": stored.image_size, "channels": stored.in_channels, "resize": stored.resize}
        for name, value in expected.items():
            if getattr(self.options, name) != value:
                raise DataError(f"data.{name} is {getattr(self.options, name)!r} but the entry was trained with "
                                f"{value!r}; remove the override so images are preprocessed as in training")

    def _class_names(self) -> list[str]:
        if self._names is None:
            self._names = self._list_classes()
        return list(self._names)

    def _list_classes(self) -> list[str]:
        if not self.root.is_dir():
            raise DataError(f"image folder {self.root} does not exist or is not a folder; set data.root to a folder "
                            f"with one sub-folder of images per class")
        names = sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if len(names) < 2:
            raise DataError(f"image folder {self.root} has {len(names)} class sub-folder(s) ({', '.join(names) or 'none'}); "
                            f"a classifier needs at least 2, one sub-folder of images per class")
        return names

    def _preprocessing_without_statistics(self) -> Preprocessing:
        options = self.options
        return Preprocessing(class_names=self._class_names(), in_channels=options.channels,
                             image_size=options.image_size, resize=options.resize, resample="bilinear",
                             mean=list(options.mean) if options.mean is not None else None,
                             std=list(options.std) if options.std is not None else None)

    def _files(self) -> list[tuple[Path, int]]:
        files = []
        empty = []
        for label, name in enumerate(self._class_names()):
            found = sorted(p for p in (self.root / name).rglob("*")
                           if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
                           and not any(part.startswith(".") for part in p.relative_to(self.root).parts))
            if not found:
                empty.append(name)
            files += [(path, label) for path in found]
        if empty:
            raise DataError(f"class folder(s) {', '.join(empty)} in {self.root} contain no images with the suffixes "
                            f"{', '.join(sorted(IMAGE_SUFFIXES))}; add images or remove the folders")
        return files

    def _load(self) -> LoadedImages:
        options = self.options
        pixels, labels, failures = [], [], []
        digest = hashlib.sha256()
        for path, label in self._files():
            try:
                data = read_bytes(path)
                image = read_image(data, options.channels, options.image_size, options.resize, "bilinear",
                                   name=str(path))
            except DataError as error:
                failures.append((path, str(error)))
                continue
            # The digest covers each used file's path under the root and its bytes, in sorted order.
            digest.update(path.relative_to(self.root).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(data).digest())
            pixels.append(image)
            labels.append(label)

        if failures and not options.skip_corrupt:
            listing = "\n".join(f"  {reason}" for _, reason in failures)
            raise DataError(f"{len(failures)} image(s) in {self.root} cannot be read:\n{listing}\n"
                            f"Fix or remove them, or set data.skip_corrupt: true to train without them")
        if failures:
            shown = ", ".join(str(path) for path, _ in failures[:_LISTED_PATHS])
            more = f" and {len(failures) - _LISTED_PATHS} more" if len(failures) > _LISTED_PATHS else ""
            logger.warning("skipping %d unreadable image(s) in %s because data.skip_corrupt is true: %s%s",
                           len(failures), self.root, shown, more)
        missing = sorted(set(range(len(self._class_names()))) - set(labels))
        if missing:
            names = [self._class_names()[i] for i in missing]
            raise DataError(f"class folder(s) {', '.join(names)} in {self.root} have no readable image left after "
                            f"skipping unreadable files; add readable images or remove the folders")
        return LoadedImages(pixels=torch.stack(pixels), labels=torch.tensor(labels, dtype=torch.int64), scale=255,
                            fingerprint={self.root.name or str(self.root): digest.hexdigest()})


__all__ = ["IMAGE_SUFFIXES", "ImageFolderDataset"]
