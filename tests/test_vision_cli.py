"""The vision family through the core commands: train, eval and predict on images the test writes,
including an image-folder recipe trained on PNG files."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits

from zoo_testing import run_zoo

CARD = """---
library_name: zoo
pipeline_tag: image-classification
zoo:
  architecture: cnn
  task: image-classification
---

# {title}
"""

DIGITS = """\
model: {architecture: cnn, channels: [8, 16], kernel_sizes: [3, 3]}
data: {dataset: digits}
train: {trainer: image-classification, max_steps: 150, batch_size: 32, lr: 3e-3, warmup_steps: 5, eval_interval: 75}
"""

FOLDER = """\
model: {{architecture: cnn, channels: [8], kernel_sizes: [3]}}
data: {{dataset: image-folder, root: {root}, image_size: 12, channels: 1}}
train: {{trainer: image-classification, max_steps: 20, batch_size: 8, warmup_steps: 2, eval_interval: 10}}
"""


def add_entry(project, name, recipe):
    folder = project / "cards" / name
    folder.mkdir(parents=True)
    (folder / "README.md").write_text(CARD.format(title=name))
    (folder / "recipe.yaml").write_text(recipe)


def digit_png(path, index, size=8):
    digits = load_digits()
    pixels = (digits.images[index] * 255 / 16).astype(np.uint8)
    Image.fromarray(pixels, mode="L").resize((size, size)).save(path)
    return int(digits.target[index])


def test_digits_train_eval_predict(zoo_env):
    project = zoo_env["project"]
    add_entry(project, "tiny-digits", DIGITS)
    trained = run_zoo("train", "tiny-digits", cwd=project)
    assert trained.returncode == 0, trained.stderr
    version = zoo_env["home"] / "entries" / "tiny-digits" / "v1"
    assert (version / "confusion_matrix.png").is_file()
    assert "![Confusion matrix](confusion_matrix.png)" in (version / "README.md").read_text()

    metrics = json.loads(run_zoo("eval", "tiny-digits", "--check", "--json", cwd=project).stdout)["metrics"]
    assert metrics["test_accuracy"] > 0.5

    images, labels = [], []
    for index in range(10):
        images.append(project / f"digit{index}.png")
        labels.append(digit_png(images[-1], index))
    larger = project / "large.png"
    digit_png(larger, 0, size=32)
    predicted = run_zoo("predict", "tiny-digits", *map(str, images), str(larger), "--top", "2", "--json", cwd=project)
    assert predicted.returncode == 0, predicted.stderr
    results = json.loads(predicted.stdout)
    assert [len(r["predictions"]) for r in results] == [2] * 11
    assert all(0.0 <= p["probability"] <= 1.0 for r in results for p in r["predictions"])
    correct = sum(r["predictions"][0]["class"] == str(label) for r, label in zip(results, labels))
    assert correct >= 8, results

    # Batches of 4 (the last one of 3) through torch.compile give the same classes.
    compiled = run_zoo("predict", "tiny-digits", *map(str, images), str(larger), "--top", "2", "--json",
                       "--batch-size", "4", "--compile", cwd=project)
    assert compiled.returncode == 0, compiled.stderr
    compiled_results = json.loads(compiled.stdout)
    assert [[p["class"] for p in r["predictions"]] for r in compiled_results] == \
        [[p["class"] for p in r["predictions"]] for r in results]
    for got, expected in zip(compiled_results, results):
        for p, q in zip(got["predictions"], expected["predictions"]):
            assert abs(p["probability"] - q["probability"]) < 1e-4

    broken = project / "broken.png"
    broken.write_bytes(b"not an image")
    failed = run_zoo("predict", "tiny-digits", str(broken), cwd=project)
    assert failed.returncode == 1
    assert str(broken) in failed.stderr


def test_predict_on_text_entry_is_refused(zoo_env):
    project = zoo_env["project"]
    add_entry(project, "tiny-digits", DIGITS)
    top = run_zoo("predict", "tiny-digits", "x.png", "--top", "0", cwd=project)
    assert top.returncode == 1
    assert "command line: --top: 0 is out of range; use 1 or more" in top.stderr
    batch = run_zoo("predict", "tiny-digits", "x.png", "--batch-size", "0", cwd=project)
    assert batch.returncode == 1
    assert "command line: --batch-size: 0 is out of range; use 1 or more" in batch.stderr


@pytest.mark.slow
def test_image_folder_recipe_trains(zoo_env):
    project = zoo_env["project"]
    root = project / "images"
    digits = load_digits()
    for index in range(120):
        label = int(digits.target[index]) % 3
        folder = root / f"class{label}"
        folder.mkdir(parents=True, exist_ok=True)
        pixels = (digits.images[index] * 255 / 16).astype(np.uint8)
        Image.fromarray(pixels, mode="L").resize((16, 16)).save(folder / f"{index}.png")
    add_entry(project, "folder-cnn", FOLDER.format(root=root))
    trained = run_zoo("train", "folder-cnn", cwd=project)
    assert trained.returncode == 0, trained.stderr
    card = (zoo_env["home"] / "entries" / "folder-cnn" / "v1" / "README.md").read_text()
    assert "test_accuracy" in card
