"""Text datasets: Tiny Shakespeare and local text files, cut into windows of tokens.

Both datasets split the text the same way: the last ``val_fraction`` of the
characters is the validation split and the rest is the training split. The
tokenizer is trained on the training split only, or loaded from
``artifacts`` when the dataset is rebuilt for a stored entry.
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any, Sequence

import torch

from zoo_registry import DataError, Problem, ValidationError

from ._files import KnownFile, find_known_file, find_text_files, sha256_of
from ._tokenizers import Tokenizer, VocabularyError, load_tokenizer, train_tokenizer
from .options import TextFileOptions, TinyShakespeareOptions

__all__ = ["SHAKESPEARE", "TextFiles", "TinyShakespeare", "TokenWindows"]

SHAKESPEARE = KnownFile(
    name="tinyshakespeare.txt",
    sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
    size=1_115_394,
    # The copy that char-rnn published and nanoGPT's data preparation downloads.
    url="https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
)

SPLITS = ("train", "val")


class TokenWindows(torch.utils.data.Dataset):
    """Windows of ``block_size + 1`` tokens of one sequence, item ``i`` starting at ``i * stride``.

    Each item is ``(x, y)``: ``x`` is the first ``block_size`` tokens and ``y``
    the same window shifted by one, the next-token targets.
    """

    def __init__(self, tokens: torch.Tensor, block_size: int, stride: int):
        self.tokens = tokens
        self.block_size = block_size
        self.stride = stride

    def __len__(self) -> int:
        return max(0, (self.tokens.numel() - self.block_size - 1) // self.stride + 1)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        length = len(self)
        if index < 0:
            index += length
        if not 0 <= index < length:
            raise IndexError(f"window {index} is out of range for {length} windows")
        start = index * self.stride
        chunk = self.tokens[start:start + self.block_size + 1].long()  # [block_size + 1]
        return chunk[:-1], chunk[1:]


class _TextDataset:
    """The split, tokenizer and windows of both text datasets; subclasses find and read the files."""

    def __init__(self, options: TinyShakespeareOptions | TextFileOptions, artifacts: str | Path | None = None):
        self.options = options
        self.artifacts = Path(artifacts) if artifacts is not None else None
        self._texts: dict[str, str] | None = None
        self._tokenizer: Tokenizer | None = None
        self._tokens: dict[str, torch.Tensor] = {}

    # What subclasses provide.

    def _source(self) -> str:
        raise NotImplementedError

    def _read(self) -> str:
        raise NotImplementedError

    def fingerprint(self) -> dict[str, str]:
        raise NotImplementedError

    # Text, split and tokenizer, built on first use.

    def _split_texts(self) -> dict[str, str]:
        if self._texts is None:
            text = self._read()
            cut = int(len(text) * (1 - self.options.val_fraction))
            self._texts = {"train": text[:cut], "val": text[cut:]}
        return self._texts

    @property
    def tokenizer(self) -> Tokenizer:
        if self._tokenizer is None:
            if self.artifacts is not None:
                self._tokenizer = load_tokenizer(self.options.tokenizer, self.artifacts)
            else:
                train = self._split_texts()["train"]
                if not train:
                    raise DataError(f"the training split of {self._source()} is empty; the text is too short")
                self._tokenizer = train_tokenizer(self.options.tokenizer, train, self.options.vocab_size)
        return self._tokenizer

    def _split_tokens(self, name: str) -> torch.Tensor:
        if name not in self._tokens:
            text = self._split_texts()[name]
            try:
                ids = self.tokenizer.encode(text)
            except VocabularyError as error:
                raise DataError(f"cannot encode the {name} split of {self._source()}: {error}. With the char "
                                f"tokenizer the vocabulary comes from the training split only") from None
            # int32 halves the memory of int64; windows are widened to int64 when they are read.
            self._tokens[name] = torch.from_numpy(ids).to(torch.int32)
        return self._tokens[name]

    # The Dataset protocol of zoo_registry.

    def info(self) -> dict[str, Any]:
        """Return the vocabulary size, the tokenizer kind and the characters each token id stands for."""
        counts = self.tokenizer.token_char_counts()
        return {
            "vocab_size": self.tokenizer.vocab_size,
            "tokenizer": self.tokenizer.kind,
            # Characters per token id, one number when all ids agree (char). It lets the trainer
            # report exact bits per character: total nats / characters / ln 2.
            "token_char_counts": counts[0] if len(set(counts)) == 1 else counts,
        }

    def splits(self) -> list[str]:
        return list(SPLITS)

    def split(self, name: str, block_size: int | None = None) -> TokenWindows:
        """Return windows of ``block_size + 1`` tokens: every offset for ``train``, non-overlapping for ``val``."""
        if name not in SPLITS:
            raise DataError(f"{self._source()} has no split {name!r}; its splits are {', '.join(SPLITS)}")
        if not isinstance(block_size, int) or isinstance(block_size, bool) or block_size < 1:
            raise ValidationError([Problem("recipe", "model.block_size", (
                f"is {block_size!r}; the text datasets cut the text into windows of block_size tokens, "
                f"so the architecture needs a block_size option >= 1"))])
        tokens = self._split_tokens(name)
        # Non-overlapping validation windows score every validation token once, which makes
        # the loss and bits per character exact; training uses every offset.
        windows = TokenWindows(tokens, block_size, stride=1 if name == "train" else block_size)
        if len(windows) == 0:
            raise DataError(
                f"the {name} split of {self._source()} has {tokens.numel()} tokens, fewer than block_size + 1 = "
                f"{block_size + 1}; use more text, a smaller block_size, or a larger data.val_fraction for val"
            )
        return windows

    def collate(self, items: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
        xs, ys = zip(*items)
        return torch.stack(xs), torch.stack(ys)  # [B, block_size] each

    def save_artifacts(self, folder: str | Path) -> list[str]:
        """Write the tokenizer files into ``folder``; return their names (none for byte)."""
        return self.tokenizer.save(Path(folder))

    # Text capability, used by generation; needs only the tokenizer when artifacts are given.

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text).tolist()

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(ids)


class TinyShakespeare(_TextDataset):
    """The 1.1 MB Tiny Shakespeare corpus, found by name in ``$ZOO_DATA`` or ``$ZOO_HOME/data``."""

    def __init__(self, options: TinyShakespeareOptions, artifacts: str | Path | None = None):
        super().__init__(options, artifacts)
        self._path: Path | None = None

    def _source(self) -> str:
        return "tiny-shakespeare"

    def _file(self) -> Path:
        if self._path is None:
            self._path = find_known_file(SHAKESPEARE)
        return self._path

    def _read(self) -> str:
        return self._file().read_text(encoding="utf-8")

    def fingerprint(self) -> dict[str, str]:
        self._file()  # verifies the checksum
        return {SHAKESPEARE.name: SHAKESPEARE.sha256}


class TextFiles(_TextDataset):
    """Local text: one file, every file of a folder, or a glob, joined in sorted path order.

    A newline is put between two files when the first does not end with one.
    """

    def __init__(self, options: TextFileOptions, artifacts: str | Path | None = None):
        super().__init__(options, artifacts)
        self._files: list[Path] | None = None

    def _source(self) -> str:
        return f"the text at {self.options.path!r}"

    def _paths(self) -> list[Path]:
        if self._files is None:
            self._files = find_text_files(self.options.path)
        return self._files

    def _read(self) -> str:
        try:
            codecs.lookup(self.options.encoding)
        except LookupError:
            raise DataError(f"data.encoding {self.options.encoding!r} is not a known text encoding; use a name "
                            f"such as utf-8, latin-1 or cp1252") from None
        parts = []
        for path in self._paths():
            try:
                text = path.read_bytes().decode(self.options.encoding)
            except UnicodeDecodeError as error:
                raise DataError(f"{path} is not valid {self.options.encoding}: byte 0x{error.object[error.start]:02x} "
                                f"at offset {error.start} cannot be decoded; set data.encoding to the file's "
                                f"encoding, such as latin-1") from None
            except OSError as error:
                raise DataError(f"cannot read {path}: {error.strerror}") from None
            if parts and not parts[-1].endswith("\n"):
                parts.append("\n")
            parts.append(text)
        text = "".join(parts)
        if not text:
            raise DataError(f"{self._source()} is empty; point data.path at files that contain text")
        return text

    def fingerprint(self) -> dict[str, str]:
        return {str(path): sha256_of(path) for path in self._paths()}
