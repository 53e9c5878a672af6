"""``zoo export --format hf``: a GPT entry as a transformers GPT-2 folder (config, safetensors, tokenizer, card)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from huggingface_hub import ModelCard, ModelCardData

from zoo_registry import WEIGHTS_FILE, Entry, ZooError

from .._atomic import write_json_atomic, write_text_atomic
from ..runner import load_entry
from ._check import compare_with_transformers, transformers_available
from ._gpt2 import gpt2_config, to_gpt2_state
from ._output import staged_folder
from ._tokenizer import export_tokenizer

CONFIG_FILE = "config.json"
CARD_FILE = "README.md"
GPT_ARCHITECTURE = ("gpt", "zoo-text")


@dataclass
class HFExport:
    """The written folder, its files, and the logit check against transformers (None when it did not run)."""

    path: Path
    files: list[str]
    max_logit_difference: float | None
    notes: list[str] = field(default_factory=list)


def check_gpt_entry(loaded, entry: Entry, format_name: str) -> None:
    """Raise ``ZooError`` unless the loaded entry is an uncompressed zoo-text GPT."""
    component = loaded.recipe.model.component
    if (component.spec.name, component.plugin.distribution) != GPT_ARCHITECTURE:
        raise ZooError(f"entry {entry.label} has architecture {component.spec.name!r} of "
                       f"{component.plugin.distribution}; --format {format_name} exports GPT entries (architecture "
                       f"gpt of zoo-text) only. Use 'zoo export {entry.name} --format onnx' instead")
    if loaded.recipe.compress:
        steps = ", ".join(step.component.spec.name for step in loaded.recipe.compress)
        base = loaded.recipe.base or "its base entry"
        raise ZooError(f"entry {entry.label} is compressed ({steps}), and the GPT-2 format has no place for "
                       f"compressed layers; export {base} instead")


def _card(entry: Entry, files: list[str]) -> str:
    source = entry.card.data.to_dict() if entry.card is not None else {}
    data = ModelCardData(library_name="transformers", pipeline_tag="text-generation", license=source.get("license"),
                         datasets=source.get("datasets"), tags=sorted({"zoo", "gpt2", *(source.get("tags") or [])}))
    tokenizer = ("tokenizer = AutoTokenizer.from_pretrained(folder)\n"
                 "ids = tokenizer(\"ROMEO:\", return_tensors=\"pt\").input_ids\n") if "tokenizer.json" in files else \
        "ids = torch.tensor([[0]])  # no tokenizer was exported; encode prompts with zoo\n"
    body = (
        f"# {entry.name}\n\n"
        f"The zoo entry `{entry.label}` in the GPT-2 format of transformers: `{WEIGHTS_FILE}` "
        f"(safetensors), `config.json` (`model_type: gpt2`) and the tokenizer. It was written by "
        f"`zoo export {entry.name} --format hf`; the zoo card of the entry describes its data, training and "
        f"limitations.\n\n"
        "```python\n"
        "import torch\n"
        "from transformers import AutoModelForCausalLM, AutoTokenizer\n\n"
        "folder = \".\"  # this folder\n"
        "model = AutoModelForCausalLM.from_pretrained(folder)\n"
        f"{tokenizer}"
        "out = model.generate(ids, max_new_tokens=100, do_sample=True)\n"
        "```\n"
    )
    return str(ModelCard(f"---\n{data.to_yaml()}\n---\n\n{body}"))


def export_hf(entry: Entry, output: Path, *, force: bool = False, check: bool = True) -> HFExport:
    """Write a GPT entry as a folder that ``AutoModelForCausalLM.from_pretrained`` loads.

    With ``check`` and transformers installed, the folder is loaded with transformers before it
    is moved into place, and its logits are compared with the zoo model's.
    """
    from safetensors.torch import save_file

    loaded = load_entry(entry)
    check_gpt_entry(loaded, entry, "hf")
    options = loaded.recipe.model.options
    vocab_size = int(loaded.info["vocab_size"])
    tensors = to_gpt2_state(loaded.model.state_dict(), options.n_layer, options.tie_weights)
    notes: list[str] = []
    difference = None
    with staged_folder(output, force) as folder:
        save_file(tensors, str(folder / WEIGHTS_FILE), metadata={"format": "pt"})
        write_json_atomic(folder / CONFIG_FILE, gpt2_config(options, vocab_size))
        tokenizer = export_tokenizer(str(loaded.info.get("tokenizer")), entry.path, folder, options.block_size)
        if tokenizer.note:
            notes.append(tokenizer.note)
        files = [WEIGHTS_FILE, CONFIG_FILE, *tokenizer.files, CARD_FILE]
        write_text_atomic(folder / CARD_FILE, _card(entry, files))
        if check and transformers_available():
            difference = compare_with_transformers(loaded.model, folder, vocab_size, options.block_size)
        elif check:
            notes.append("transformers is not installed, so the folder was not loaded to compare logits")
    return HFExport(path=output, files=sorted(files), max_logit_difference=difference, notes=notes)
