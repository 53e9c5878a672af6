"""``zoo import hf``: a GPT-2 checkpoint folder (as ``save_pretrained`` writes it) becomes a store entry."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
import yaml

from zoo_registry import (CARD_FILE, RECIPE_FILE, WEIGHTS_FILE, DataError, WeightsError, get_registry, new_card,
                          parse_yaml, validate)

from .. import store
from .._atomic import write_text_atomic
from ..runner._build import build_dataset, build_model, plugin_versions
from ..runner._publish import DEFAULT_EVAL_TOLERANCE, parameter_count, write_config
from ..weights import check_safetensors, is_pickle_file, save_weights
from ._check import compare_with_transformers, transformers_available
from ._gpt2 import from_gpt2_state, gpt_options_from_config, has_only_zero_biases
from ._tokenizer import find_tokenizer

INDEX_FILE = "model.safetensors.index.json"
# The text dataset that imported entries name: its tokenizer comes from the entry's own files, and
# 'zoo eval' scores the model on its validation split.
DATASET = "tiny-shakespeare"


@dataclass
class HFImport:
    """The published entry, its size, and the logit check against transformers (None when it did not run)."""

    name: str
    path: Path
    parameters: int
    tokenizer: str
    max_logit_difference: float | None
    notes: list[str]


def _read_config(folder: Path) -> dict[str, Any]:
    path = folder / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path} is missing; a transformers checkpoint folder has config.json beside its weights. "
                        f"Write the folder with model.save_pretrained(folder)") from None
    except (OSError, ValueError) as error:
        raise DataError(f"cannot read {path}: {error}") from None
    if not isinstance(config, dict):
        raise DataError(f"{path} does not contain a JSON object; write it with model.save_pretrained(folder)")
    return config


def _weight_files(folder: Path) -> list[Path]:
    index = folder / INDEX_FILE
    if index.is_file():
        try:
            names = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise WeightsError(f"cannot read the shard index {index}: {error}") from None
        return [folder / name for name in names]
    if (folder / WEIGHTS_FILE).is_file():
        return [folder / WEIGHTS_FILE]
    pickled = sorted(p.name for p in folder.iterdir() if is_pickle_file(p.name))
    if pickled:
        raise WeightsError(f"{folder} has weights only in pickle files ({', '.join(pickled)}); zoo never loads "
                           f"pickles, because loading one can run code. Convert them with transformers: "
                           f"AutoModelForCausalLM.from_pretrained(folder).save_pretrained(folder)")
    raise WeightsError(f"{folder} has no {WEIGHTS_FILE}; write the folder with model.save_pretrained(folder)")


def _read_weights(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    tensors: dict[str, torch.Tensor] = {}
    for path in _weight_files(folder):
        check_safetensors(path)
        tensors.update(load_file(str(path)))
    return tensors


def _recipe_text(options: dict[str, Any], tokenizer: str, folder: Path) -> str:
    recipe = {
        "model": {"architecture": "gpt", **options},
        "data": {"dataset": DATASET, "tokenizer": tokenizer},
        "train": {"trainer": "causal-lm"},
    }
    header = (f"# Imported by 'zoo import hf' from the transformers GPT-2 checkpoint {folder}.\n"
              f"# The data section supplies the tokenizer (stored with the entry) and the text that\n"
              f"# 'zoo eval' scores; the weights were not trained on it by zoo.\n")
    return header + yaml.safe_dump(recipe, sort_keys=False)


def _card(name: str, folder: Path, zoo: dict[str, Any], source: dict[str, Any]) -> str:
    body = (f"# {name}\n\n"
            f"A GPT-2 checkpoint imported from `{folder}` with `zoo import hf`. The weights are the "
            f"checkpoint's; the layout is zoo's GPT (architecture `gpt`). `zoo eval {name}` scores it on Tiny "
            f"Shakespeare, which says nothing about the data it was trained on.\n")
    card = new_card(zoo=zoo, body=body, pipeline_tag="text-generation", license=source.get("license"),
                    tags=["gpt2", "imported"], base_model=source.get("base_model"))
    return str(card)


def _source_metadata(folder: Path) -> dict[str, Any]:
    """Return license and base model from the folder's own card, when it has one."""
    path = folder / CARD_FILE
    if not path.is_file():
        return {}
    from huggingface_hub import ModelCard

    try:
        data = ModelCard.load(path).data.to_dict()
    except (ValueError, yaml.YAMLError):
        return {}
    base = data.get("base_model")
    return {"license": data.get("license"), "base_model": base if isinstance(base, str) else None}


def import_hf(folder: Path, name: str, *, check: bool = True) -> HFImport:
    """Convert the GPT-2 checkpoint in ``folder`` into the next store version of entry ``name``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder; pass the folder that save_pretrained wrote")
    store.check_entry_name(name, "--name")
    config = _read_config(folder)
    options = gpt_options_from_config(config, str(folder / "config.json"))
    tensors = _read_weights(folder)
    options["bias"] = not has_only_zero_biases(tensors)
    tokenizer = find_tokenizer(folder)
    vocab_size = int(config["vocab_size"])

    text = _recipe_text(options, tokenizer.kind, folder.resolve())
    recipe = validate(parse_yaml(text, f"{folder} (import)"), get_registry())
    notes: list[str] = []
    staged = store.staging_dir(name)
    try:
        for file_name, content in tokenizer.files.items():
            write_text_atomic(staged / file_name, content)
        info = build_dataset(recipe, artifacts=staged).info()
        if info["vocab_size"] > vocab_size:
            raise DataError(f"the tokenizer of {folder} has {info['vocab_size']} tokens but the model's vocab_size "
                            f"is {vocab_size}; the tokenizer does not belong to these weights")
        if info["vocab_size"] < vocab_size:
            notes.append(f"the model has {vocab_size} token embeddings but the tokenizer only {info['vocab_size']} "
                         f"tokens; decoding a sampled id above {info['vocab_size'] - 1} fails")
            counts = info["token_char_counts"]
            if isinstance(counts, list):
                info["token_char_counts"] = counts + [0] * (vocab_size - len(counts))
            info["vocab_size"] = vocab_size
        model = build_model(recipe, info)
        state = from_gpt2_state(tensors, options["bias"], options["tie_weights"])
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as error:
            raise WeightsError(f"the weights in {folder} do not fit the GPT that config.json describes: "
                               f"{' '.join(str(error).split())}") from None
        model.eval()
        difference = None
        if check and transformers_available():
            difference = compare_with_transformers(model, folder, vocab_size, options["block_size"])
        elif check:
            notes.append("transformers is not installed, so the logits were not compared with it")

        sha = save_weights(model, staged / WEIGHTS_FILE)
        write_config(staged, recipe, info)
        write_text_atomic(staged / RECIPE_FILE, text)
        source = _source_metadata(folder)
        zoo = {
            "architecture": "gpt",
            "task": "text-generation",
            "parameters": parameter_count(model),
            "eval_tolerance": DEFAULT_EVAL_TOLERANCE,
            "weights": {WEIGHTS_FILE: sha},
            "plugins": plugin_versions(recipe),
            "lineage": {
                "source": "transformers GPT-2 checkpoint",
                "source_path": str(folder.resolve()),
                "torch": str(torch.__version__),
                "imported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            },
        }
        write_text_atomic(staged / CARD_FILE, _card(name, folder.resolve(), zoo, source))
    except BaseException:
        store.discard(staged)
        raise
    path = store.publish(name, staged)
    return HFImport(name=name, path=path, parameters=zoo["parameters"], tokenizer=tokenizer.kind,
                    max_logit_difference=difference, notes=notes)
