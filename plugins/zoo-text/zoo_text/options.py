"""Recipe options of the text components, one dataclass per component.

This module must not import torch: ``zoo validate`` and ``zoo list`` load these
classes to check recipes without building anything. Checks that involve two
fields at once run in ``__post_init__`` and raise ``ValidationError``.
"""

from __future__ import annotations

from dataclasses import dataclass

from zoo_registry import Problem, ValidationError, option

__all__ = ["CausalLMOptions", "GPTOptions", "RNNOptions", "TextFileOptions", "TinyShakespeareOptions",
           "TOKENIZERS"]

TOKENIZERS = ("char", "byte", "bpe")

# Options are built from the recipe's sections, so problems found across
# fields are reported against the recipe with the section's field path.
_RECIPE = "recipe"


@dataclass
class GPTOptions:
    """A decoder-only, pre-norm transformer with learned position embeddings (the ``model`` section)."""

    n_layer: int = option(4, help="Number of transformer blocks.", min=1)
    n_head: int = option(4, help="Attention heads per block; d_model must be divisible by it.", min=1)
    d_model: int = option(128, help="Width of the residual stream (embedding size).", min=1)
    block_size: int = option(64, help="Context length in tokens; also the training window length.", min=1)
    dropout: float = option(0.0, help="Dropout probability on embeddings, attention and residual branches.",
                            min=0, max=1, max_exclusive=True)
    bias: bool = option(False, help="Use biases in linear layers and layer norms.")
    tie_weights: bool = option(True, help="Share the token embedding matrix with the output layer.")
    activation: str = option("gelu", help="MLP activation: 'gelu' (exact, erf form) or 'gelu_tanh' (the tanh "
                                          "approximation that GPT-2 uses, 'gelu_new' in transformers).",
                             choices=("gelu", "gelu_tanh"))

    def __post_init__(self) -> None:
        if self.d_model % self.n_head:
            raise ValidationError([Problem(
                _RECIPE, "model.d_model",
                f"is {self.d_model}, which model.n_head={self.n_head} does not divide; each head gets "
                f"d_model / n_head channels, so pick a multiple of {self.n_head} or another n_head",
            )])


@dataclass
class RNNOptions:
    """A stacked LSTM or GRU language model (the ``model`` section of ``lstm`` and ``gru``)."""

    n_layer: int = option(2, help="Number of stacked recurrent layers.", min=1)
    d_model: int = option(256, help="Hidden state size of every recurrent layer.", min=1)
    d_embed: int | None = option(None, help="Token embedding size; null uses d_model. "
                                            "tie_weights needs it equal to d_model.", min=1)
    dropout: float = option(0.0, help="Dropout probability on embeddings, between layers and before the output layer.",
                            min=0, max=1, max_exclusive=True)
    block_size: int = option(64, help="Training sequence length in tokens: the truncated backpropagation "
                                      "through time length. Generation has no context limit.", min=1)
    tie_weights: bool = option(True, help="Share the token embedding matrix with the output layer.")

    def __post_init__(self) -> None:
        if self.tie_weights and self.d_embed is not None and self.d_embed != self.d_model:
            raise ValidationError([Problem(
                _RECIPE, "model.d_embed",
                f"is {self.d_embed} but model.d_model is {self.d_model}; tie_weights: true shares one matrix "
                f"between the embedding and the output layer, so set d_embed to {self.d_model} (or null), "
                f"or set tie_weights: false",
            )])

    @property
    def embedding_size(self) -> int:
        """Token embedding size after applying the ``d_embed: null`` default."""
        return self.d_model if self.d_embed is None else self.d_embed


@dataclass(kw_only=True)
class _TokenizerOptions:
    tokenizer: str = option("char", help="How text becomes tokens: char (one token per character seen in the "
                                         "training split), byte (256 UTF-8 byte values) or bpe (byte-level BPE "
                                         "trained on the training split).", choices=TOKENIZERS)
    vocab_size: int = option(1024, help="Vocabulary size of the bpe tokenizer; ignored by char and byte.",
                             min=256, max=1_000_000)
    val_fraction: float = option(0.1, help="Fraction of the text, taken from its end, used as the validation split.",
                                 min=0, max=1, min_exclusive=True, max_exclusive=True)


@dataclass(kw_only=True)
class TinyShakespeareOptions(_TokenizerOptions):
    """The Tiny Shakespeare corpus (the ``data`` section); the file is found by name and checksum."""


@dataclass(kw_only=True)
class TextFileOptions(_TokenizerOptions):
    """Local text files (the ``data`` section): one file, every file in a folder, or a glob pattern."""

    path: str = option(help="A text file, a folder (every file in it, recursively, in sorted order) or a glob "
                            "pattern such as 'corpus/**/*.txt'. Relative paths start at the current folder.")
    encoding: str = option("utf-8", help="Text encoding of the files, any name Python's codecs accept.")


@dataclass
class CausalLMOptions:
    """Next-token prediction with cross-entropy (the ``train`` section, beside the runner's options)."""

    label_smoothing: float = option(0.0, help="Label smoothing of the training loss; evaluation always uses "
                                              "plain cross-entropy.", min=0, max=1, max_exclusive=True)
