"""Declarations of the components this plugin provides. Importing this module must stay cheap.

Neither this module nor ``zoo_text.options`` imports torch; the targets are
imported only when a component is used.
"""

from __future__ import annotations

from zoo_registry import ComponentSpec, hookimpl

TASK = "text-generation"
_OPTIONS = "zoo_text.options"


@hookimpl
def zoo_components() -> list[ComponentSpec]:
    return [
        ComponentSpec("gpt", "architecture", "zoo_text._gpt:build_gpt", TASK,
                      "Decoder-only pre-norm transformer (nanoGPT layout) with a KV cache for generation",
                      f"{_OPTIONS}:GPTOptions"),
        ComponentSpec("lstm", "architecture", "zoo_text._rnn:build_lstm", TASK,
                      "Stacked LSTM language model with optional tied embeddings",
                      f"{_OPTIONS}:RNNOptions"),
        ComponentSpec("gru", "architecture", "zoo_text._rnn:build_gru", TASK,
                      "Stacked GRU language model with optional tied embeddings",
                      f"{_OPTIONS}:RNNOptions"),
        ComponentSpec("tiny-shakespeare", "dataset", "zoo_text._datasets:TinyShakespeare", TASK,
                      "Tiny Shakespeare (1.1 MB), char, byte or bpe tokens, last 10% for validation",
                      f"{_OPTIONS}:TinyShakespeareOptions"),
        ComponentSpec("text", "dataset", "zoo_text._datasets:TextFiles", TASK,
                      "Local text from a file, folder or glob, char, byte or bpe tokens",
                      f"{_OPTIONS}:TextFileOptions"),
        ComponentSpec("causal-lm", "trainer", "zoo_text._trainer:CausalLM", TASK,
                      "Next-token cross-entropy; reports loss, perplexity and bits per character",
                      f"{_OPTIONS}:CausalLMOptions"),
    ]
