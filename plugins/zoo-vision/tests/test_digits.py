"""The digits dataset: the stratified split, preprocessing, artifacts and prediction input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from zoo_registry import DataError
from zoo_vision.digits import DigitsDataset
from zoo_vision.options import DigitsOptions


@pytest.fixture(scope="module")
def digits() -> DigitsDataset:
    return DigitsDataset(DigitsOptions())


def _labels(dataset: DigitsDataset, name: str) -> np.ndarray:
    return dataset.split(name).labels.numpy()


def test_digits_info(digits):
    assert digits.info() == {"num_classes": 10, "class_names": [str(d) for d in range(10)], "in_channels": 1,
                             "image_size": 8}


def test_digits_split_sizes(digits):
    sizes = {name: len(digits.split(name)) for name in digits.splits()}
    assert sizes == {"train": 1259, "val": 179, "test": 359}
    assert sum(sizes.values()) == 1797


def test_digits_splits_are_disjoint(digits):
    indices = digits._split_indices()
    combined = np.concatenate([indices["train"], indices["val"], indices["test"]])
    assert sorted(combined.tolist()) == list(range(1797))


def test_digits_split_is_stratified(digits, digits_bunch):
    class_sizes = np.bincount(digits_bunch.target)
    for name, fraction in (("val", 0.1), ("test", 0.2)):
        counts = np.bincount(_labels(digits, name), minlength=10)
        assert np.array_equal(counts, np.round(class_sizes * fraction).astype(int)), name


def test_digits_split_is_deterministic(digits):
    again = DigitsDataset(DigitsOptions())
    for name in ("train", "val", "test"):
        assert torch.equal(again.split(name).pixels, digits.split(name).pixels)
        assert torch.equal(again.split(name).labels, digits.split(name).labels)


def test_digits_split_seed_changes_split(digits):
    other = DigitsDataset(DigitsOptions(split_seed=1))
    assert not np.array_equal(other._split_indices()["test"], digits._split_indices()["test"])
    assert np.array_equal(np.bincount(_labels(other, "test")), np.bincount(_labels(digits, "test")))


def test_digits_items_are_normalized(digits):
    train = digits.split("train")
    images = torch.stack([train[i][0] for i in range(len(train))])
    assert images.shape == (1259, 1, 8, 8)
    assert images.dtype == torch.float32
    # Mean and std come from the training split, so the training images end up standardized.
    assert abs(images.mean().item()) < 1e-4
    assert abs(images.std().item() - 1) < 1e-3
    image, label = train[0]
    expected = (train.pixels[0].float() / 16 - digits.preprocessing().mean[0]) / digits.preprocessing().std[0]
    assert torch.allclose(image, expected)
    assert label.dtype == torch.int64


def test_digits_collate_stacks_batch(digits):
    split = digits.split("val")
    images, labels = digits.collate([split[i] for i in range(5)])
    assert images.shape == (5, 1, 8, 8)
    assert labels.tolist() == split.labels[:5].tolist()


def test_digits_unknown_split_error(digits):
    with pytest.raises(DataError, match=r"^split 'dev' does not exist; this dataset has train, val, test$"):
        digits.split("dev")


def test_digits_without_test_split():
    dataset = DigitsDataset(DigitsOptions(test_fraction=0.0))
    assert dataset.splits() == ["train", "val"]
    with pytest.raises(DataError) as error:
        dataset.split("test")
    assert str(error.value) == ("split 'test' does not exist; this dataset has train, val; set data.test_fraction "
                                "above 0 (and high enough for the class sizes) to hold out a test split")


def test_digits_fingerprint_hashes_arrays(digits, digits_bunch):
    import hashlib

    expected = hashlib.sha256(np.ascontiguousarray(digits_bunch.images, dtype="<f8").tobytes()
                              + np.ascontiguousarray(digits_bunch.target, dtype="<i8").tobytes()).hexdigest()
    assert digits.fingerprint() == {"sklearn-digits": expected}


def test_digits_random_shift_moves_training_images():
    dataset = DigitsDataset(DigitsOptions(random_shift=2))
    train = dataset.split("train")
    torch.manual_seed(0)
    shifted = [train[0][0] for _ in range(20)]
    assert any(not torch.equal(shifted[0], other) for other in shifted[1:])
    # Only the training split is augmented.
    val = dataset.split("val")
    assert val.augment is None
    assert all(torch.equal(val[0][0], val[0][0]) for _ in range(20))


def test_digits_artifacts_round_trip(digits, tmp_path):
    assert digits.save_artifacts(tmp_path) == ["preprocessing.json"]
    record = json.loads((tmp_path / "preprocessing.json").read_text())
    assert record["class_names"] == [str(d) for d in range(10)]
    assert record["image_size"] == 8
    assert record["mean"] == digits.preprocessing().mean
    restored = DigitsDataset(DigitsOptions(), artifacts=tmp_path)
    assert restored.info() == digits.info()
    assert restored.class_names == [str(d) for d in range(10)]
    assert restored._loaded is None  # nothing was read to rebuild the preprocessing


def test_digits_load_image_matches_training_item(digits, digits_bunch, digit_png, tmp_path):
    digits.save_artifacts(tmp_path)
    restored = DigitsDataset(DigitsOptions(), artifacts=tmp_path)
    index = int(digits._split_indices()["test"][0])
    digit_png(digits_bunch.images[index]).save(tmp_path / "digit.png")
    loaded = restored.load_image(tmp_path / "digit.png")
    expected, _ = digits.split("test")[0]
    assert loaded.shape == (1, 8, 8)
    # The PNG stores 8-bit values, so it matches the 0..16 source up to half a gray level.
    assert torch.allclose(loaded, expected, atol=0.5 / 255 / digits.preprocessing().std[0] + 1e-6)


def test_digits_load_image_resizes_wrong_size(digits, digits_bunch, digit_png, tmp_path):
    digit_png(digits_bunch.images[5]).save(tmp_path / "small.png")
    # 32x32 made by repeating each pixel 4x4 in RGB: the box filter averages each block back to the pixel.
    digit_png(digits_bunch.images[5], upscale=4).convert("RGB").save(tmp_path / "large.png")
    small = digits.load_image(tmp_path / "small.png")
    large = digits.load_image(tmp_path / "large.png")
    assert large.shape == (1, 8, 8)
    assert torch.allclose(large, small, atol=1e-5)


def test_digits_load_image_unreadable_errors(digits, tmp_path):
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    with pytest.raises(DataError) as error:
        digits.load_image(tmp_path / "broken.png")
    assert str(error.value).startswith(f"cannot decode image {tmp_path / 'broken.png'}: ")
    assert str(error.value).endswith("; pass a PNG, JPEG or another format that Pillow reads")
    with pytest.raises(DataError) as error:
        digits.load_image(tmp_path / "missing.png")
    assert str(error.value) == f"cannot read image {tmp_path / 'missing.png'}: the file does not exist"
    with pytest.raises(DataError) as error:
        digits.load_image(tmp_path)
    assert str(error.value) == f"cannot read image {tmp_path}: it is a folder, not an image file"


def test_digits_artifacts_missing_errors(tmp_path):
    with pytest.raises(DataError) as error:
        DigitsDataset(DigitsOptions(), artifacts=tmp_path)
    assert str(error.value) == (f"{tmp_path / 'preprocessing.json'} is missing; it records how images were "
                                f"preprocessed in training, so train the entry again to write it")


def test_digits_artifacts_malformed_errors(tmp_path):
    (tmp_path / "preprocessing.json").write_text('{"class_names": ["0"]}')
    with pytest.raises(DataError, match=r"is malformed: expected the keys \['class_names', 'image_size', "):
        DigitsDataset(DigitsOptions(), artifacts=tmp_path)


def test_digits_options_leave_no_training_images():
    from zoo_registry import ValidationError

    with pytest.raises(ValidationError) as error:
        DigitsOptions(val_fraction=0.5, test_fraction=0.5)
    assert str(error.value) == (
        "1 problem found:\n  recipe: data.test_fraction: val_fraction 0.5 plus test_fraction 0.5 leaves no training "
        "images; keep their sum below 1, e.g. val_fraction: 0.1 and test_fraction: 0.2")
