"""Comparison of a zoo GPT with the transformers model loaded from a GPT-2 folder, when transformers is installed."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import torch

from zoo_registry import WeightsError

logger = logging.getLogger("zoo.export")

# The largest logit difference accepted between zoo and transformers. Both compute the same
# float32 operations in a different order, which moves logits by about 1e-6.
LOGITS_TOLERANCE = 1e-4


def transformers_available() -> bool:
    return importlib.util.find_spec("transformers") is not None


def sample_tokens(vocab_size: int, block_size: int, batch: int = 2, seed: int = 0) -> torch.Tensor:
    """Return fixed random token ids [batch, block_size] for comparing logits."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab_size, (batch, block_size), generator=generator)


def compare_with_transformers(model: torch.nn.Module, folder: Path, vocab_size: int, block_size: int) -> float:
    """Load ``folder`` with ``GPT2LMHeadModel`` and return the largest logit difference to ``model``.

    Raises ``WeightsError`` when the difference exceeds ``LOGITS_TOLERANCE``, because then the
    folder does not hold the same model.
    """
    from transformers import GPT2LMHeadModel
    from transformers.utils import logging as transformers_logging

    # transformers reports tied weights at info level and draws a progress bar while loading; neither
    # belongs in zoo's output.
    verbosity = transformers_logging.get_verbosity()
    bars = transformers_logging.is_progress_bar_enabled()
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    try:
        reference = GPT2LMHeadModel.from_pretrained(str(folder)).eval()
    finally:
        transformers_logging.set_verbosity(verbosity)
        if bars:
            transformers_logging.enable_progress_bar()
    tokens = sample_tokens(vocab_size, block_size)
    with torch.no_grad():
        expected = model.eval()(tokens).float()
        actual = reference(tokens).logits.float()
    difference = float((expected - actual).abs().max())
    if difference > LOGITS_TOLERANCE:
        raise WeightsError(f"the logits of the transformers model in {folder} differ from zoo's by {difference:.3g} "
                           f"(tolerance {LOGITS_TOLERANCE}); the GPT-2 conversion is wrong for this model, "
                           f"please report it with the entry's recipe.yaml")
    return difference
