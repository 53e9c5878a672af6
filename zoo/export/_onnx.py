"""``zoo export --format onnx``: an entry's forward pass as an ONNX file, checked under onnxruntime.

The input is what the entry's dataset feeds the model: token ids [batch, tokens]
for language models, images [batch, channels, height, width] for classifiers.
The batch axis is dynamic, and so is the token axis, up to the model's
``block_size``.
"""

from __future__ import annotations

import importlib.util
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from zoo_registry import Entry, MissingPluginError, ZooError

from ..bench._inputs import example_inputs
from ..runner import load_entry
from ._output import staged_file

INPUT_NAME = "input"
OUTPUT_NAME = "output"
# ONNX opset of the exported graph; onnxruntime 1.20 and later run it.
OPSET = 18
# float32 kernels of onnxruntime and PyTorch sum in different orders; 1e-4 absolute covers that.
OUTPUT_TOLERANCE = 1e-4


@dataclass
class OnnxExport:
    """The written file, the input it takes, and the comparison with PyTorch under onnxruntime."""

    path: Path
    input_shape: list[int | str]
    input_dtype: str
    max_output_difference: float | None
    notes: list[str] = field(default_factory=list)


class _Forward(torch.nn.Module):
    """The model's forward with one tensor in and one out, which is what the exporter traces."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.model(inputs)


def _dynamic_shapes(example: torch.Tensor, block_size: int | None) -> tuple[dict, list[int | str]]:
    batch = torch.export.Dim("batch", min=1, max=65536)
    axes: dict[int, torch.export.Dim] = {0: batch}
    shape: list[int | str] = ["batch", *example.shape[1:]]
    if example.dtype == torch.long and example.dim() == 2:
        # Token ids: any length up to the context.
        axes[1] = torch.export.Dim("tokens", min=1, max=block_size or 65536)
        shape[1] = "tokens"
    return {"inputs": axes}, shape


def _require_exporter() -> None:
    missing = [name for name in ("onnx", "onnxscript") if importlib.util.find_spec(name) is None]
    if missing:
        raise MissingPluginError(f"--format onnx needs {' and '.join(missing)}, which torch.onnx uses to write "
                                 f"the file; install them with 'pip install zoo[export]' or "
                                 f"'pip install {' '.join(missing)}'")


def _compare(path: Path, model: torch.nn.Module, example: torch.Tensor) -> float:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inputs = [example, example[:1]]
    if example.dtype == torch.long and example.dim() == 2 and example.size(1) > 1:
        inputs.append(example[:, : example.size(1) // 2])  # a shorter sequence exercises the dynamic token axis
    difference = 0.0
    with torch.no_grad():
        for tensor in inputs:
            expected = model(tensor).float().numpy()
            (actual,) = session.run([OUTPUT_NAME], {INPUT_NAME: tensor.numpy()})
            difference = max(difference, float(np.abs(expected - actual).max()))
    return difference


def _export(model: torch.nn.Module, example: torch.Tensor, dynamic_shapes: dict, label: str):
    """Run torch.onnx's exporter quietly; raise ``ZooError`` when it cannot export the model."""
    # The exporter logs a warning per torchvision operator it cannot register; they do not apply here.
    exporter_log = logging.getLogger("torch.onnx")
    level = exporter_log.level
    exporter_log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            # NOTE: torch 2.13's exporter trips its own deprecation of isinstance(treespec, LeafSpec). The
            # warning is about torch's code, not the user's; drop this filter once torch no longer emits it.
            warnings.filterwarnings("ignore", message=".*LeafSpec.*", category=FutureWarning)
            return torch.onnx.export(_Forward(model).eval(), (example,), dynamo=True, opset_version=OPSET,
                                     input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                                     dynamic_shapes=dynamic_shapes, verbose=False)
    except Exception as error:  # the exporter raises many types, all meaning "this model cannot be exported"
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ZooError(f"torch.onnx could not export {label} ({type(model).__name__}): {first_line}. "
                       f"Compressed layers (int8) have no ONNX form; export the base entry instead") from error
    finally:
        exporter_log.setLevel(level)


def export_onnx(entry: Entry, output: Path, *, force: bool = False, check: bool = True) -> OnnxExport:
    """Export the entry's forward pass to ``output``; with ``check``, compare outputs under onnxruntime."""
    _require_exporter()
    loaded = load_entry(entry)
    model = loaded.model.eval()
    examples = example_inputs(loaded, 2)
    example = examples.inputs
    dynamic_shapes, shape = _dynamic_shapes(example, loaded.block_size)
    notes = [examples.random_reason] if examples.random_reason else []
    difference = None
    with staged_file(output, force) as staged:
        program = _export(model, example, dynamic_shapes, entry.label)
        program.save(str(staged), external_data=False)
        if check and importlib.util.find_spec("onnxruntime") is not None:
            difference = _compare(staged, model, example)
            if difference > OUTPUT_TOLERANCE:
                raise ZooError(f"onnxruntime's outputs differ from PyTorch's by {difference:.3g} (tolerance "
                               f"{OUTPUT_TOLERANCE}); the file was not written. Please report it with the entry's "
                               f"recipe.yaml")
        elif check:
            notes.append("onnxruntime is not installed, so the file was not run to compare outputs")
    return OnnxExport(path=output, input_shape=shape, input_dtype=str(example.dtype).removeprefix("torch."),
                      max_output_difference=difference, notes=notes)
