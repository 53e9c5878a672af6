"""Tokenizers that turn text into token ids and back: char, byte and byte-level BPE.

Each tokenizer is trained on the training split (``train_tokenizer``), written
next to the weights (``save``) and rebuilt from those files alone
(``load_tokenizer``), so a stored entry encodes text exactly as in training.
"""

from __future__ import annotations

import json
import os
import unicodedata
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from zoo_registry import DataError, ZooError

__all__ = ["BPETokenizer", "ByteTokenizer", "CharTokenizer", "Tokenizer", "VocabularyError", "load_tokenizer",
           "train_tokenizer"]

_SHOWN_CHARACTERS = 20


class VocabularyError(ZooError, ValueError):
    """Text or token ids that the tokenizer's vocabulary cannot represent."""


class Tokenizer(Protocol):
    kind: str
    vocab_size: int

    def encode(self, text: str) -> np.ndarray: ...

    def decode(self, ids: Sequence[int]) -> str: ...

    def token_char_counts(self) -> list[int]:
        """Return, per token id, how many characters of the text the token contributes."""

    def save(self, folder: Path) -> list[str]: ...


def _describe_characters(characters: Sequence[str]) -> str:
    shown = []
    for character in characters[:_SHOWN_CHARACTERS]:
        name = unicodedata.name(character, "")
        shown.append(f"{character!r} (U+{ord(character):04X}{' ' + name if name else ''})")
    more = len(characters) - _SHOWN_CHARACTERS
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _check_ids(ids: Sequence[int], vocab_size: int) -> list[int]:
    ids = [int(i) for i in ids]
    bad = sorted({i for i in ids if not 0 <= i < vocab_size})
    if bad:
        raise VocabularyError(f"token ids {bad[:10]} are outside the vocabulary; valid ids are 0 to {vocab_size - 1}")
    return ids


def _write_atomic(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


class CharTokenizer:
    """One token per character (Unicode code point) that occurs in the training text, in sorted order."""

    kind = "char"
    file_name = "char_vocab.json"

    def __init__(self, chars: Sequence[str]):
        if not chars:
            raise DataError("the char vocabulary is empty; the training text contains no characters")
        self.chars = list(chars)
        self.vocab_size = len(self.chars)
        codes = np.array([ord(c) for c in self.chars], dtype=np.int64)
        # Code point -> token id, -1 for characters outside the vocabulary.
        self._lookup = np.full(int(codes.max()) + 1, -1, dtype=np.int64)
        self._lookup[codes] = np.arange(self.vocab_size)

    @classmethod
    def train(cls, text: str) -> "CharTokenizer":
        return cls(sorted(set(text)))

    def encode(self, text: str) -> np.ndarray:
        codes = np.frombuffer(text.encode("utf-32-le", errors="surrogatepass"), dtype=np.uint32).astype(np.int64)
        ids = np.full(codes.shape, -1, dtype=np.int64)
        known = codes < self._lookup.size
        ids[known] = self._lookup[codes[known]]
        if (ids < 0).any():
            missing = [chr(c) for c in np.unique(codes[ids < 0])]
            raise VocabularyError(
                f"the text contains {len(missing)} character{'s' if len(missing) != 1 else ''} that the char "
                f"vocabulary ({self.vocab_size} characters from the training text) cannot encode: "
                f"{_describe_characters(missing)}; remove or replace them, or train with tokenizer: byte or bpe, "
                f"which encode any text"
            )
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(self.chars[i] for i in _check_ids(ids, self.vocab_size))

    def token_char_counts(self) -> list[int]:
        return [1] * self.vocab_size

    def save(self, folder: Path) -> list[str]:
        _write_atomic(Path(folder) / self.file_name,
                      json.dumps({"tokenizer": self.kind, "chars": self.chars}, ensure_ascii=False, indent=0))
        return [self.file_name]

    @classmethod
    def load(cls, folder: Path) -> "CharTokenizer":
        path = Path(folder) / cls.file_name
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise _missing_artifact(path, cls.kind) from None
        except (OSError, ValueError) as error:
            raise DataError(f"cannot read the char vocabulary {path}: {error}") from None
        chars = data.get("chars") if isinstance(data, dict) else None
        if not isinstance(chars, list) or not all(isinstance(c, str) and len(c) == 1 for c in chars) \
                or len(set(chars)) != len(chars):
            raise DataError(f"{path} is not a char vocabulary: 'chars' must be a list of distinct single "
                            f"characters; write it again with save_artifacts")
        return cls(chars)


class ByteTokenizer:
    """One token per byte of the UTF-8 encoding: a fixed vocabulary of 256 that encodes any text."""

    kind = "byte"
    vocab_size = 256

    @classmethod
    def train(cls, text: str) -> "ByteTokenizer":
        return cls()

    def encode(self, text: str) -> np.ndarray:
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError as error:
            bad = sorted(set(text[error.start:error.end]))
            raise VocabularyError(f"the text contains characters that UTF-8 cannot encode: "
                                  f"{_describe_characters(bad)}; these are lone surrogates, remove them") from None
        return np.frombuffer(data, dtype=np.uint8).astype(np.int64)

    def decode(self, ids: Sequence[int]) -> str:
        # Sampled bytes need not form valid UTF-8; invalid sequences become U+FFFD.
        return bytes(_check_ids(ids, self.vocab_size)).decode("utf-8", errors="replace")

    def token_char_counts(self) -> list[int]:
        # A character starts at every byte that is not a UTF-8 continuation byte (0b10xxxxxx).
        return [0 if byte & 0xC0 == 0x80 else 1 for byte in range(256)]

    def save(self, folder: Path) -> list[str]:
        return []

    @classmethod
    def load(cls, folder: Path) -> "ByteTokenizer":
        return cls()


def _byte_symbols() -> dict[str, int]:
    """Return the byte-level BPE alphabet: the printable character that stands for each byte.

    Bytes that are printable Latin-1 characters stand for themselves; the other
    68 bytes take the code points from 256 upwards, in byte order. This is the
    GPT-2 mapping that ``tokenizers.pre_tokenizers.ByteLevel`` uses.
    """
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    symbols = {chr(byte): byte for byte in printable}
    extra = 0
    for byte in range(256):
        if byte not in printable:
            symbols[chr(256 + extra)] = byte
            extra += 1
    return symbols


class BPETokenizer:
    """Byte-level BPE from Hugging Face ``tokenizers``, trained on the training text; encodes any text."""

    kind = "bpe"
    file_name = "tokenizer.json"

    def __init__(self, tokenizer: "tokenizers.Tokenizer"):  # noqa: F821
        self.tokenizer = tokenizer
        self.vocab_size = tokenizer.get_vocab_size()

    @classmethod
    def train(cls, text: str, vocab_size: int) -> "BPETokenizer":
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        tokenizer = Tokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                      special_tokens=[], show_progress=False)
        tokenizer.train_from_iterator(text.splitlines(keepends=True), trainer)
        return cls(tokenizer)

    def encode(self, text: str) -> np.ndarray:
        try:
            ids = self.tokenizer.encode(text).ids
        except Exception as error:  # tokenizers raises a plain Exception for text it cannot take
            raise VocabularyError(f"the bpe tokenizer cannot encode the text: {error}") from None
        return np.asarray(ids, dtype=np.int64)

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(_check_ids(ids, self.vocab_size), skip_special_tokens=False)

    def token_char_counts(self) -> list[int]:
        symbols = _byte_symbols()
        counts = [0] * self.vocab_size
        for token, index in self.tokenizer.get_vocab().items():
            counts[index] = sum(1 for symbol in token if symbols[symbol] & 0xC0 != 0x80)
        return counts

    def save(self, folder: Path) -> list[str]:
        _write_atomic(Path(folder) / self.file_name, self.tokenizer.to_str())
        return [self.file_name]

    @classmethod
    def load(cls, folder: Path) -> "BPETokenizer":
        from tokenizers import Tokenizer

        path = Path(folder) / cls.file_name
        if not path.is_file():
            raise _missing_artifact(path, cls.kind)
        try:
            return cls(Tokenizer.from_file(str(path)))
        except Exception as error:  # tokenizers raises a plain Exception for a malformed file
            raise DataError(f"cannot load the bpe tokenizer {path}: {error}") from None


_KINDS = {"char": CharTokenizer, "byte": ByteTokenizer, "bpe": BPETokenizer}


def _missing_artifact(path: Path, kind: str) -> DataError:
    return DataError(f"{path} is missing; the {kind} tokenizer of this entry is stored in that file. "
                     f"Copy it from the training run's entry, or train the entry again")


def train_tokenizer(kind: str, text: str, vocab_size: int) -> Tokenizer:
    """Build a tokenizer of ``kind`` from the training text; ``vocab_size`` applies to bpe only."""
    if kind == "bpe":
        return BPETokenizer.train(text, vocab_size)
    return _KINDS[kind].train(text)


def load_tokenizer(kind: str, folder: str | Path) -> Tokenizer:
    """Rebuild a tokenizer of ``kind`` from the files its ``save`` wrote into ``folder``."""
    return _KINDS[kind].load(Path(folder))
