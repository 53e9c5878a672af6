"""Tokenizers between zoo's text entries and transformers' ``PreTrainedTokenizerFast``.

zoo-text stores three kinds: ``char`` (``char_vocab.json``), ``byte`` (no
file) and ``bpe`` (a Hugging Face ``tokenizers`` file, ``tokenizer.json``).
All three become a ``tokenizer.json`` that ``AutoTokenizer`` loads and that
encodes and decodes text exactly as zoo does: char and byte as a word-level
model over single characters (or byte symbols), bpe as it is. The reverse
direction recognizes those files and GPT-2's ``vocab.json`` + ``merges.txt``.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo_registry import DataError

from .._atomic import write_json_atomic

CHAR_VOCAB_FILE = "char_vocab.json"
TOKENIZER_FILE = "tokenizer.json"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
# Matches any single character, newlines included; the tokenizers library uses Oniguruma regexes.
_ONE_CHARACTER = r"[\s\S]"


def byte_symbols() -> list[str]:
    """Return the printable character that stands for each byte 0..255 in byte-level tokenizers.

    Bytes that are printable Latin-1 characters stand for themselves; the other 68 bytes take
    the code points from 256 upwards, in byte order. GPT-2's tokenizer introduced this mapping
    and ``tokenizers.pre_tokenizers.ByteLevel`` uses it.
    """
    printable = {*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)}
    symbols = []
    extra = 0
    for byte in range(256):
        if byte in printable:
            symbols.append(chr(byte))
        else:
            symbols.append(chr(256 + extra))
            extra += 1
    return symbols


def _single_symbol_tokenizer(symbols: list[str], byte_level: bool) -> Any:
    """Build a ``tokenizers.Tokenizer`` whose token ``i`` is the one-character string ``symbols[i]``."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers

    tokenizer = Tokenizer(models.WordLevel({symbol: index for index, symbol in enumerate(symbols)}, unk_token=None))
    split = pre_tokenizers.Split(Regex(_ONE_CHARACTER), behavior="isolated")
    if byte_level:
        # Text -> UTF-8 bytes as byte symbols -> one token per symbol; decoding maps symbols back to bytes.
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False), split])
        tokenizer.decoder = decoders.ByteLevel()
    else:
        tokenizer.pre_tokenizer = split
        # Fuse joins the tokens without the spaces that word-level decoding would put between them.
        tokenizer.decoder = decoders.Fuse()
    return tokenizer


@dataclass
class TokenizerExport:
    """What ``export_tokenizer`` wrote: file names, and a note when transformers cannot load the tokenizer."""

    kind: str
    files: list[str]
    note: str | None = None


def _read_chars(entry_folder: Path) -> list[str]:
    path = entry_folder / CHAR_VOCAB_FILE
    try:
        chars = json.loads(path.read_text(encoding="utf-8"))["chars"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DataError(f"cannot read the char vocabulary {path}: {error}; the entry is incomplete, "
                        f"pull or train it again") from None
    return list(chars)


def export_tokenizer(kind: str, entry_folder: Path, folder: Path, max_length: int | None) -> TokenizerExport:
    """Write the entry's tokenizer into ``folder`` in the form ``AutoTokenizer.from_pretrained`` loads."""
    if kind == "char":
        chars = _read_chars(entry_folder)
        _single_symbol_tokenizer(chars, byte_level=False).save(str(folder / TOKENIZER_FILE))
        # The vocabulary also goes beside it in zoo's own format, so 'zoo import hf' restores the char tokenizer.
        shutil.copyfile(entry_folder / CHAR_VOCAB_FILE, folder / CHAR_VOCAB_FILE)
        files = [TOKENIZER_FILE, CHAR_VOCAB_FILE]
    elif kind == "byte":
        _single_symbol_tokenizer(byte_symbols(), byte_level=True).save(str(folder / TOKENIZER_FILE))
        files = [TOKENIZER_FILE]
    elif kind == "bpe":
        source = entry_folder / TOKENIZER_FILE
        if not source.is_file():
            raise DataError(f"{source} is missing; the bpe tokenizer of this entry is stored in that file. "
                            f"Pull or train the entry again")
        shutil.copyfile(source, folder / TOKENIZER_FILE)
        files = [TOKENIZER_FILE]
    else:
        return TokenizerExport(kind, [], note=f"the {kind!r} tokenizer has no transformers form; the folder has "
                                              f"no tokenizer, so encode prompts with zoo")
    config: dict[str, Any] = {"tokenizer_class": "PreTrainedTokenizerFast", "clean_up_tokenization_spaces": False}
    if max_length:
        config["model_max_length"] = max_length
    write_json_atomic(folder / TOKENIZER_CONFIG_FILE, config)
    return TokenizerExport(kind, [*files, TOKENIZER_CONFIG_FILE])


@dataclass
class TokenizerImport:
    """A tokenizer found in a transformers folder: zoo's kind and the files an entry stores for it."""

    kind: str
    files: dict[str, str]
    """File name in the entry -> file content (text)."""


def _word_level_symbols(model: dict[str, Any]) -> list[str] | None:
    """Return the symbols of a word-level model whose tokens are single characters with ids 0..n-1, else None."""
    vocab = model.get("vocab")
    if not isinstance(vocab, dict) or not vocab:
        return None
    by_id = sorted((index, token) for token, index in vocab.items())
    if [index for index, _ in by_id] != list(range(len(by_id))) or any(len(token) != 1 for _, token in by_id):
        return None
    return [token for _, token in by_id]


def find_tokenizer(folder: Path) -> TokenizerImport:
    """Return the zoo tokenizer of a transformers checkpoint folder, or raise ``DataError`` saying what is missing."""
    if (folder / CHAR_VOCAB_FILE).is_file():
        chars = _read_chars(folder)
        return TokenizerImport("char", {CHAR_VOCAB_FILE: json.dumps({"tokenizer": "char", "chars": chars},
                                                                    ensure_ascii=False, indent=0)})
    path = folder / TOKENIZER_FILE
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            model = data["model"]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise DataError(f"cannot read the tokenizer {path}: {error}") from None
        kind = model.get("type") if isinstance(model, dict) else None
        if kind == "BPE":
            return TokenizerImport("bpe", {TOKENIZER_FILE: path.read_text(encoding="utf-8")})
        symbols = _word_level_symbols(model) if kind == "WordLevel" else None
        if symbols is not None and symbols == byte_symbols():
            return TokenizerImport("byte", {})
        if symbols is not None:
            return TokenizerImport("char", {CHAR_VOCAB_FILE: json.dumps({"tokenizer": "char", "chars": symbols},
                                                                        ensure_ascii=False, indent=0)})
        raise DataError(f"the tokenizer {path} is a {kind} model; zoo reads byte-level BPE tokenizers and "
                        f"word-level tokenizers of single characters. Import a checkpoint with a GPT-2 style "
                        f"tokenizer")
    vocab, merges = folder / "vocab.json", folder / "merges.txt"
    if vocab.is_file() and merges.is_file():
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers

        tokenizer = Tokenizer(models.BPE.from_file(str(vocab), str(merges)))
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        return TokenizerImport("bpe", {TOKENIZER_FILE: tokenizer.to_str()})
    raise DataError(f"{folder} has no tokenizer ({TOKENIZER_FILE}, {CHAR_VOCAB_FILE}, or vocab.json with "
                    f"merges.txt); zoo needs it to encode prompts. Save it into the folder with "
                    f"tokenizer.save_pretrained({str(folder)!r})")
