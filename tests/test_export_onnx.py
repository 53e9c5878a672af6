"""zoo export --format onnx: the GPT and the classifier forward passes under onnxruntime."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from inference_testing import tiny_zoo
from zoo_registry import get_registry, resolve_entry

onnxruntime = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from zoo.runner import load_entry  # noqa: E402


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    return tiny_zoo(tmp_path_factory)


def load(path):
    return load_entry(resolve_entry(get_registry(), str(path)))


def run_onnx(path, inputs):
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["input"]
    assert [o.name for o in session.get_outputs()] == ["output"]
    return session.run(["output"], {"input": inputs.numpy()})[0]


def test_export_onnx_gpt(zoo, tmp_path):
    path = tmp_path / "gpt.onnx"
    result = zoo.zoo("export", "tiny-gpt", "--format", "onnx", "--output", str(path), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["input_shape"] == ["batch", "tokens"]
    assert report["input_dtype"] == "int64"
    assert report["max_output_difference"] <= 1e-4

    model = load(zoo.entry("tiny-gpt")).model
    generator = torch.Generator().manual_seed(0)
    for shape in [(1, 1), (3, 32), (5, 7)]:  # batch and token axes are both dynamic
        ids = torch.randint(0, 65, shape, generator=generator)
        with torch.no_grad():
            expected = model(ids).numpy()
        actual = run_onnx(path, ids)
        assert actual.shape == expected.shape
        assert np.abs(actual - expected).max() <= 1e-4


def test_export_onnx_classifier(zoo, tmp_path):
    path = tmp_path / "cnn.onnx"
    result = zoo.zoo("export", "tiny-cnn", "--format", "onnx", "--output", str(path))
    assert result.returncode == 0, result.stderr
    assert f"exported tiny-cnn@v1 to {path} (onnx); onnxruntime matches zoo to" in " ".join(result.stdout.split())

    loaded = load(zoo.entry("tiny-cnn"))
    split = loaded.dataset.split("test")
    images = loaded.dataset.collate([split[i] for i in range(7)])[0]
    with torch.no_grad():
        expected = loaded.model(images).numpy()
    actual = run_onnx(path, images)
    assert actual.shape == (7, 10)
    assert np.abs(actual - expected).max() <= 1e-4
    assert (actual.argmax(axis=1) == expected.argmax(axis=1)).all()


def test_export_onnx_refuses_existing_file(zoo, tmp_path):
    path = tmp_path / "taken.onnx"
    path.write_text("old")
    result = zoo.zoo("export", "tiny-cnn", "--format", "onnx", "--output", str(path))
    assert result.returncode == 1
    assert f"error: {path} already exists; pass --force to replace it" in " ".join(result.stderr.split())
    assert path.read_text() == "old"


def test_export_onnx_needs_existing_folder(zoo, tmp_path):
    path = tmp_path / "missing" / "model.onnx"
    result = zoo.zoo("export", "tiny-cnn", "--format", "onnx", "--output", str(path))
    assert result.returncode == 1
    assert (f"error: the folder {path.parent} does not exist; create it first or choose another --output"
            in " ".join(result.stderr.split()))


def test_export_onnx_without_data(zoo, tmp_path):
    import shutil

    import yaml

    folder = tmp_path / "no-data"
    shutil.copytree(zoo.entry("tiny-gpt"), folder)
    recipe = yaml.safe_load((folder / "recipe.yaml").read_text())
    recipe["data"] = {"dataset": "text", "path": str(tmp_path / "missing.txt"), "tokenizer": "char"}
    (folder / "recipe.yaml").write_text(yaml.safe_dump(recipe))

    path = tmp_path / "gpt.onnx"
    result = zoo.zoo("export", str(folder), "--format", "onnx", "--output", str(path), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["notes"] == [f"the inputs are random because the entry's data is not available: "
                               f"{tmp_path / 'missing.txt'} does not exist (relative to {zoo.project}); set data.path "
                               f"to a text file, a folder or a glob pattern"]
    assert report["max_output_difference"] <= 1e-4
    ids = torch.randint(0, 65, (2, 9), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected = load(zoo.entry("tiny-gpt")).model(ids).numpy()
    assert np.abs(run_onnx(path, ids) - expected).max() <= 1e-4
