"""Tokenizers on real Shakespeare text: round trips, character counts, save and load, and errors."""

from __future__ import annotations

import json

import pytest
from tokenizers import pre_tokenizers

from zoo_registry import DataError, ZooError
from zoo_text._tokenizers import (BPETokenizer, ByteTokenizer, CharTokenizer, VocabularyError, _byte_symbols,
                                  load_tokenizer, train_tokenizer)

KINDS = ["char", "byte", "bpe"]
UNICODE_TEXT = "naïve café — 東京 🙂\r\n\ttabs and \u00a0 spaces"


@pytest.fixture(scope="module")
def split_text(shakespeare_text):
    cut = int(len(shakespeare_text) * 0.9)
    return shakespeare_text[:cut], shakespeare_text[cut:]


@pytest.fixture(scope="module")
def trained(split_text):
    # bpe takes a few seconds to train, so each kind is trained once for this module.
    return {kind: train_tokenizer(kind, split_text[0], 512) for kind in KINDS}


@pytest.mark.parametrize("kind", KINDS)
def test_tokenizer_round_trips_shakespeare(trained, split_text, kind):
    tokenizer = trained[kind]
    for text in split_text:
        assert tokenizer.decode(tokenizer.encode(text).tolist()) == text


@pytest.mark.parametrize("kind", ["byte", "bpe"])
def test_tokenizer_round_trips_unicode(trained, kind):
    tokenizer = trained[kind]
    assert tokenizer.decode(tokenizer.encode(UNICODE_TEXT).tolist()) == UNICODE_TEXT


@pytest.mark.parametrize("kind", KINDS)
def test_token_char_counts_add_up_to_characters(trained, split_text, kind):
    tokenizer = trained[kind]
    counts = tokenizer.token_char_counts()
    assert len(counts) == tokenizer.vocab_size
    texts = [split_text[1]] + ([UNICODE_TEXT] if kind != "char" else [])
    for text in texts:
        assert sum(counts[i] for i in tokenizer.encode(text)) == len(text)


def test_vocabulary_sizes(trained):
    assert trained["char"].vocab_size == 65
    assert trained["char"].chars[:3] == ["\n", " ", "!"]
    assert trained["byte"].vocab_size == 256
    assert trained["bpe"].vocab_size == 512


def test_bpe_compresses_shakespeare(trained, split_text):
    tokens = len(trained["bpe"].encode(split_text[1]))
    assert tokens < 0.6 * len(split_text[1])


def test_bpe_training_is_deterministic(trained, split_text):
    again = train_tokenizer("bpe", split_text[0], 512)
    assert again.tokenizer.to_str() == trained["bpe"].tokenizer.to_str()


def test_byte_symbols_match_tokenizers_alphabet():
    assert set(_byte_symbols()) == set(pre_tokenizers.ByteLevel.alphabet())
    assert sorted(_byte_symbols().values()) == list(range(256))


@pytest.mark.parametrize("kind, files", [("char", ["char_vocab.json"]), ("byte", []), ("bpe", ["tokenizer.json"])])
def test_tokenizer_save_and_load(trained, split_text, tmp_path, kind, files):
    tokenizer = trained[kind]
    assert tokenizer.save(tmp_path) == files
    assert sorted(p.name for p in tmp_path.iterdir()) == files
    loaded = load_tokenizer(kind, tmp_path)
    assert type(loaded) is type(tokenizer)
    assert loaded.vocab_size == tokenizer.vocab_size
    assert (loaded.encode(split_text[1]) == tokenizer.encode(split_text[1])).all()
    assert loaded.token_char_counts() == tokenizer.token_char_counts()


def test_char_vocab_file_is_readable_json(trained, tmp_path):
    trained["char"].save(tmp_path)
    data = json.loads((tmp_path / "char_vocab.json").read_text(encoding="utf-8"))
    assert data == {"tokenizer": "char", "chars": trained["char"].chars}


def test_char_encode_names_unknown_characters():
    tokenizer = CharTokenizer.train("abc ")
    with pytest.raises(VocabularyError) as caught:
        tokenizer.encode("a café, 🙂é")
    assert isinstance(caught.value, ZooError)
    assert str(caught.value) == (
        "the text contains 4 characters that the char vocabulary (4 characters from the training text) cannot "
        "encode: ',' (U+002C COMMA), 'f' (U+0066 LATIN SMALL LETTER F), 'é' (U+00E9 LATIN SMALL LETTER E WITH "
        "ACUTE), '🙂' (U+1F642 SLIGHTLY SMILING FACE); remove or replace them, or train with tokenizer: byte or "
        "bpe, which encode any text"
    )


def test_char_encode_shortens_long_lists():
    tokenizer = CharTokenizer.train("a")
    with pytest.raises(VocabularyError) as caught:
        tokenizer.encode("bcdefghijklmnopqrstuvwxyz")
    assert str(caught.value).startswith("the text contains 25 characters that the char vocabulary (1 characters")
    assert "'u' (U+0075 LATIN SMALL LETTER U) and 5 more; remove or replace them" in str(caught.value)


def test_byte_encode_rejects_lone_surrogate():
    with pytest.raises(VocabularyError) as caught:
        ByteTokenizer().encode("ok \ud800")
    assert str(caught.value) == ("the text contains characters that UTF-8 cannot encode: '\\ud800' (U+D800); "
                                 "these are lone surrogates, remove them")


@pytest.mark.parametrize("kind", KINDS)
def test_decode_rejects_ids_outside_vocabulary(trained, kind):
    size = trained[kind].vocab_size
    with pytest.raises(VocabularyError) as caught:
        trained[kind].decode([0, size, -1])
    assert str(caught.value) == f"token ids [-1, {size}] are outside the vocabulary; valid ids are 0 to {size - 1}"


def test_byte_decode_replaces_invalid_utf8():
    assert ByteTokenizer().decode([104, 0xC3]) == "h\ufffd"


@pytest.mark.parametrize("kind, file", [("char", "char_vocab.json"), ("bpe", "tokenizer.json")])
def test_load_missing_file(tmp_path, kind, file):
    with pytest.raises(DataError) as caught:
        load_tokenizer(kind, tmp_path)
    assert str(caught.value) == (
        f"{tmp_path / file} is missing; the {kind} tokenizer of this entry is stored in that file. Copy it from "
        f"the training run's entry, or train the entry again"
    )


@pytest.mark.parametrize("content", ['{"chars": ["ab"]}', '{"chars": ["a", "a"]}', '["a"]'])
def test_load_malformed_char_vocab(tmp_path, content):
    (tmp_path / "char_vocab.json").write_text(content)
    with pytest.raises(DataError) as caught:
        CharTokenizer.load(tmp_path)
    assert str(caught.value) == (
        f"{tmp_path / 'char_vocab.json'} is not a char vocabulary: 'chars' must be a list of distinct single "
        f"characters; write it again with save_artifacts"
    )


def test_load_malformed_bpe(tmp_path):
    (tmp_path / "tokenizer.json").write_text("{not json")
    with pytest.raises(DataError) as caught:
        BPETokenizer.load(tmp_path)
    assert str(caught.value).startswith(f"cannot load the bpe tokenizer {tmp_path / 'tokenizer.json'}: ")
