"""zoo-text: language models, tokenizers, text datasets and the causal-LM trainer for zoo.

The registry reads the declarations in ``zoo_text._plugin``. Importing this
package stays torch-free: the names below that need torch are imported on
first access.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "GPT": "zoo_text._gpt", "KVCache": "zoo_text._gpt", "build_gpt": "zoo_text._gpt",
    "RecurrentLM": "zoo_text._rnn", "build_lstm": "zoo_text._rnn", "build_gru": "zoo_text._rnn",
    "TinyShakespeare": "zoo_text._datasets", "TextFiles": "zoo_text._datasets", "TokenWindows": "zoo_text._datasets",
    "SHAKESPEARE": "zoo_text._datasets",
    "CausalLM": "zoo_text._trainer",
    "BPETokenizer": "zoo_text._tokenizers", "ByteTokenizer": "zoo_text._tokenizers",
    "CharTokenizer": "zoo_text._tokenizers", "VocabularyError": "zoo_text._tokenizers",
    "load_tokenizer": "zoo_text._tokenizers", "train_tokenizer": "zoo_text._tokenizers",
}

__all__ = ["__version__", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'zoo_text' has no attribute {name!r}")
