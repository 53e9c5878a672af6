"""Entries in the formats other tools read: transformers (GPT-2) and ONNX, and GPT-2 checkpoints into zoo.

Importing this package imports torch. transformers, onnx, onnxscript and
onnxruntime are optional: each is imported only by the step that needs it.
"""

from ._hf import HFExport, export_hf
from ._import import HFImport, import_hf
from ._onnx import OnnxExport, export_onnx

__all__ = ["HFExport", "HFImport", "OnnxExport", "export_hf", "export_onnx", "import_hf"]
