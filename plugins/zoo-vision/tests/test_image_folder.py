"""The image-folder dataset on PNG files written by the tests, including unreadable ones."""

from __future__ import annotations

import json
import logging
import re

import numpy as np
import pytest
import torch
from PIL import Image

from zoo_registry import DataError, ValidationError
from zoo_vision.image_folder import ImageFolderDataset
from zoo_vision.options import ImageFolderOptions

IMAGES_PER_CLASS = 12  # written by the digit_folder fixture

CORRUPT_BYTES = b"\x89PNG\r\n\x1a\n this file is cut off"


def _dataset(root, **options) -> ImageFolderDataset:
    return ImageFolderDataset(ImageFolderOptions(root=str(root), **options))


def _write_corrupt(root) -> tuple:
    broken = root / "1" / "broken.png"
    broken.write_bytes(CORRUPT_BYTES)
    empty = root / "2" / "empty.jpg"
    empty.write_bytes(b"")
    return broken, empty


def test_image_folder_info(digit_folder):
    dataset = _dataset(digit_folder, image_size=8, channels=1)
    assert dataset.info() == {"num_classes": 3, "class_names": ["0", "1", "2"], "in_channels": 1, "image_size": 8}
    assert dataset._loaded is None  # info() reads no image


def test_image_folder_splits_are_stratified(digit_folder):
    dataset = _dataset(digit_folder, image_size=8, channels=1, val_fraction=0.25, test_fraction=0.25)
    counts = {name: torch.bincount(dataset.split(name).labels, minlength=3).tolist() for name in dataset.splits()}
    assert counts == {"train": [6, 6, 6], "val": [3, 3, 3], "test": [3, 3, 3]}


def test_image_folder_items_resized_and_converted(digit_folder):
    dataset = _dataset(digit_folder, image_size=12, channels=3)
    image, label = dataset.split("train")[0]
    assert image.shape == (3, 12, 12)
    assert image.dtype == torch.float32
    assert 0 <= int(label) < 3
    images, labels = dataset.collate([dataset.split("train")[i] for i in range(4)])
    assert images.shape == (4, 3, 12, 12)
    assert labels.shape == (4,)


def test_image_folder_grayscale_matches_source(digit_folder, digits_bunch):
    dataset = _dataset(digit_folder, image_size=8, channels=1, mean=[0.0], std=[1.0], val_fraction=0.1,
                       test_fraction=0.0)
    loaded = dataset._load_once()
    # The first file of class 0 is the first 0 of the digits, stored at 8x8.
    first_zero = digits_bunch.images[digits_bunch.target == 0][0]
    expected = torch.from_numpy((first_zero * 255 / 16).round()).to(torch.uint8)
    assert torch.equal(loaded.pixels[0, 0], expected)
    # Every third file was stored at 16x16 RGB; it comes back gray, shrunk by Pillow's bilinear filter.
    with Image.open(digit_folder / "0" / "02.png") as stored:
        assert stored.size == (16, 16)
        expected = np.asarray(stored.convert("L").resize((8, 8), Image.Resampling.BILINEAR))
    assert torch.equal(loaded.pixels[2, 0], torch.from_numpy(expected.copy()))


def test_image_folder_statistics_from_options(digit_folder):
    dataset = _dataset(digit_folder, image_size=8, channels=1, mean=[0.5], std=[0.25])
    split = dataset.split("val")
    assert torch.allclose(split[0][0], (split.pixels[0].float() / 255 - 0.5) / 0.25)


def test_image_folder_statistics_computed_on_train(digit_folder):
    dataset = _dataset(digit_folder, image_size=8, channels=3)
    train = dataset.split("train")
    images = torch.stack([train[i][0] for i in range(len(train))])
    assert torch.allclose(images.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-4)
    assert torch.allclose(images.std(dim=(0, 2, 3)), torch.ones(3), atol=1e-2)


def test_image_folder_corrupt_files_error(digit_folder):
    broken, empty = _write_corrupt(digit_folder)
    dataset = _dataset(digit_folder, image_size=8, channels=1)
    assert dataset.info()["num_classes"] == 3
    with pytest.raises(DataError) as error:
        dataset.split("train")
    message = str(error.value)
    assert message.startswith(f"2 image(s) in {digit_folder} cannot be read:\n  cannot decode image {broken}: ")
    assert f"\n  cannot decode image {empty}: " in message
    assert message.endswith("\nFix or remove them, or set data.skip_corrupt: true to train without them")


def test_image_folder_skip_corrupt_warns(digit_folder, caplog):
    broken, empty = _write_corrupt(digit_folder)
    dataset = _dataset(digit_folder, image_size=8, channels=1, skip_corrupt=True)
    with caplog.at_level(logging.WARNING, logger="zoo_vision.image_folder"):
        sizes = sum(len(dataset.split(name)) for name in dataset.splits())
    assert sizes == 3 * IMAGES_PER_CLASS
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (f"skipping 2 unreadable image(s) in {digit_folder} because data.skip_corrupt is "
                                   f"true: {broken}, {empty}")


def test_image_folder_class_left_empty_by_skipping(tmp_path, digit_folder):
    for path in (digit_folder / "2").iterdir():
        path.write_bytes(CORRUPT_BYTES)
    dataset = _dataset(digit_folder, image_size=8, channels=1, skip_corrupt=True)
    with pytest.raises(DataError) as error:
        dataset.split("train")
    assert str(error.value) == (f"class folder(s) 2 in {digit_folder} have no readable image left after skipping "
                                f"unreadable files; add readable images or remove the folders")


def test_image_folder_ignores_other_files(digit_folder):
    (digit_folder / "0" / "notes.txt").write_text("not an image")
    (digit_folder / "1" / ".hidden.png").write_bytes(CORRUPT_BYTES)
    dataset = _dataset(digit_folder, image_size=8, channels=1)
    assert sum(len(dataset.split(name)) for name in dataset.splits()) == 3 * IMAGES_PER_CLASS


def test_image_folder_missing_root_error(tmp_path):
    dataset = _dataset(tmp_path / "nowhere")
    with pytest.raises(DataError) as error:
        dataset.info()
    assert str(error.value) == (f"image folder {tmp_path / 'nowhere'} does not exist or is not a folder; set "
                                f"data.root to a folder with one sub-folder of images per class")


def test_image_folder_single_class_error(tmp_path):
    (tmp_path / "cats").mkdir()
    with pytest.raises(DataError) as error:
        _dataset(tmp_path).info()
    assert str(error.value) == (f"image folder {tmp_path} has 1 class sub-folder(s) (cats); a classifier needs at "
                                f"least 2, one sub-folder of images per class")


def test_image_folder_empty_class_error(digit_folder):
    (digit_folder / "3").mkdir()
    with pytest.raises(DataError, match=r"^class folder\(s\) 3 in .* contain no images with the suffixes "):
        _dataset(digit_folder).split("train")


def test_image_folder_fingerprint_changes_with_content(digit_folder):
    before = _dataset(digit_folder, image_size=8, channels=1).fingerprint()
    assert list(before) == ["digit-pngs"]
    assert len(before["digit-pngs"]) == 64
    Image.new("L", (8, 8), color=255).save(digit_folder / "1" / "00.png")
    after = _dataset(digit_folder, image_size=8, channels=1).fingerprint()
    assert after != before


def test_image_folder_load_image_from_artifacts(digit_folder, tmp_path):
    dataset = _dataset(digit_folder, image_size=8, channels=1)
    artifacts = tmp_path / "entry"
    artifacts.mkdir()
    dataset.save_artifacts(artifacts)
    record = json.loads((artifacts / "preprocessing.json").read_text())
    assert record["class_names"] == ["0", "1", "2"]
    assert record["resize"] == "stretch"
    # Prediction needs no data folder: the root may be gone.
    restored = ImageFolderDataset(ImageFolderOptions(root=str(tmp_path / "gone"), image_size=8, channels=1),
                                  artifacts=artifacts)
    assert restored.class_names == ["0", "1", "2"]
    assert restored.info() == dataset.info()
    image = restored.load_image(digit_folder / "0" / "00.png")
    assert torch.allclose(image, dataset.load_image(digit_folder / "0" / "00.png"))


def test_image_folder_load_image_resizes_wrong_size(digit_folder, tmp_path):
    dataset = _dataset(digit_folder, image_size=8, channels=1, mean=[0.0], std=[1.0])
    Image.new("L", (40, 24), color=128).save(tmp_path / "wide.png")
    image = dataset.load_image(tmp_path / "wide.png")
    assert image.shape == (1, 8, 8)
    assert torch.allclose(image, torch.full((1, 8, 8), 128 / 255))


def test_image_folder_center_crop_keeps_middle(tmp_path, digit_folder):
    dataset = _dataset(digit_folder, image_size=4, channels=1, resize="center-crop", mean=[0.0], std=[1.0])
    # A 12x4 image whose middle third is white: center-crop keeps only the white middle square.
    picture = Image.new("L", (12, 4), color=0)
    picture.paste(255, (4, 0, 8, 4))
    picture.save(tmp_path / "striped.png")
    assert torch.allclose(dataset.load_image(tmp_path / "striped.png"), torch.ones(1, 4, 4))
    stretched = _dataset(digit_folder, image_size=4, channels=1, mean=[0.0], std=[1.0])
    assert stretched.load_image(tmp_path / "striped.png").min() == 0


def test_image_folder_load_image_unreadable_error(digit_folder, tmp_path):
    dataset = _dataset(digit_folder, image_size=8, channels=1, mean=[0.0], std=[1.0])
    (tmp_path / "cut.png").write_bytes(CORRUPT_BYTES)
    with pytest.raises(DataError, match=rf"^cannot decode image {re.escape(str(tmp_path / 'cut.png'))}: "):
        dataset.load_image(tmp_path / "cut.png")


def test_image_folder_artifacts_mismatch_error(digit_folder, tmp_path):
    _dataset(digit_folder, image_size=8, channels=1).save_artifacts(tmp_path)
    with pytest.raises(DataError) as error:
        ImageFolderDataset(ImageFolderOptions(root=str(digit_folder), image_size=16, channels=1), artifacts=tmp_path)
    assert str(error.value) == ("data.image_size is 16 but the entry was trained with 8; remove the override so "
                                "images are preprocessed as in training")


def test_image_folder_too_small_for_val_split(digit_folder):
    # 12 images per class: round(12 * 0.04) == 0, so no class gives an image to validation.
    dataset = _dataset(digit_folder, image_size=8, channels=1, val_fraction=0.04)
    assert dataset.splits() == ["train", "test"]
    with pytest.raises(DataError) as error:
        dataset.split("val")
    assert str(error.value) == ("split 'val' does not exist; this dataset has train, test; every class is too small "
                                "for data.val_fraction to hold out an image, so raise it or add images")


def test_image_folder_artifacts_other_classes_error(digit_folder, tmp_path):
    _dataset(digit_folder, image_size=8, channels=1).save_artifacts(tmp_path)
    (digit_folder / "2").rename(digit_folder / "9")
    restored = ImageFolderDataset(ImageFolderOptions(root=str(digit_folder), image_size=8, channels=1),
                                  artifacts=tmp_path)
    for _ in range(2):  # a second call must fail the same way, not reuse the rejected data
        with pytest.raises(DataError) as error:
            restored.split("val")
        assert str(error.value) == ("the data has the classes ['0', '1', '9'] but the entry was trained on "
                                    "['0', '1', '2']; point the recipe at the data it was trained on")


def test_image_folder_augmentations_apply_to_train_only(digit_folder):
    dataset = _dataset(digit_folder, image_size=8, channels=1, horizontal_flip=True, random_crop_padding=1,
                       rotation_degrees=15)
    train = dataset.split("train")
    torch.manual_seed(0)
    views = [train[0][0] for _ in range(10)]
    assert any(not torch.equal(views[0], view) for view in views[1:])
    assert dataset.split("val").augment is None


@pytest.mark.parametrize(("options", "message"), [
    ({"channels": 3, "mean": [0.5]}, "data.mean: has 1 values but channels is 3; give one value per channel"),
    ({"channels": 1, "std": [0.0]}, "data.std: contains [0.0]; every standard deviation must be > 0"),
    ({"val_fraction": 0.6, "test_fraction": 0.4},
     "data.test_fraction: val_fraction 0.6 plus test_fraction 0.4 leaves no training images; keep their sum below "
     "1, e.g. val_fraction: 0.1 and test_fraction: 0.2"),
])
def test_image_folder_options_invalid(options, message):
    with pytest.raises(ValidationError) as error:
        ImageFolderOptions(root="images", **options)
    assert str(error.value) == f"1 problem found:\n  recipe: {message}"
