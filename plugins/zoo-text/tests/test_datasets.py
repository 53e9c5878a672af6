"""The tiny-shakespeare and text datasets: finding files, checksums, splits, windows and artifacts."""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import shutil
import threading

import pytest
import torch

from zoo_registry import DataError, ValidationError
from zoo_text import _datasets
from zoo_text._datasets import SHAKESPEARE, TextFiles, TinyShakespeare
from zoo_text._files import find_known_file
from zoo_text.options import TextFileOptions, TinyShakespeareOptions

PLACE = (f"Put tinyshakespeare.txt (1115394 bytes, sha256 {SHAKESPEARE.sha256}) into {{data}} (the ZOO_DATA folder) "
         f"or into {{home}}, or set ZOO_DATA to the folder that has it. The file is at {SHAKESPEARE.url}")


def place(offline) -> str:
    return PLACE.format(data=offline["data"], home=offline["home"] / "data")


# Finding the Tiny Shakespeare file.

def test_lookup_prefers_zoo_data(offline, shakespeare_path):
    shutil.copy(shakespeare_path, offline["data"] / "tinyshakespeare.txt")
    (offline["home"] / "data").mkdir(parents=True)
    shutil.copy(shakespeare_path, offline["home"] / "data" / "tinyshakespeare.txt")
    assert find_known_file(SHAKESPEARE) == offline["data"] / "tinyshakespeare.txt"


def test_lookup_falls_back_to_zoo_home(offline, shakespeare_path):
    (offline["home"] / "data").mkdir(parents=True)
    shutil.copy(shakespeare_path, offline["home"] / "data" / "tinyshakespeare.txt")
    assert find_known_file(SHAKESPEARE) == offline["home"] / "data" / "tinyshakespeare.txt"


def test_lookup_without_zoo_data(offline, shakespeare_path, monkeypatch):
    monkeypatch.delenv("ZOO_DATA")
    (offline["home"] / "data").mkdir(parents=True)
    shutil.copy(shakespeare_path, offline["home"] / "data" / "tinyshakespeare.txt")
    assert find_known_file(SHAKESPEARE) == offline["home"] / "data" / "tinyshakespeare.txt"


@pytest.mark.parametrize("variable", ["ZOO_OFFLINE", "HF_HUB_OFFLINE"])
def test_missing_file_offline(offline, monkeypatch, variable):
    monkeypatch.delenv("ZOO_OFFLINE")
    monkeypatch.setenv(variable, "1")
    with pytest.raises(DataError) as caught:
        TinyShakespeare(TinyShakespeareOptions()).info()
    searched = f"{offline['data'] / 'tinyshakespeare.txt'}, {offline['home'] / 'data' / 'tinyshakespeare.txt'}"
    assert str(caught.value) == (
        f"tinyshakespeare.txt was not found; searched {searched}, and {variable}=1 forbids downloading. "
        f"{place(offline)}"
    )


def test_missing_file_without_zoo_data(offline, monkeypatch):
    monkeypatch.delenv("ZOO_DATA")
    with pytest.raises(DataError) as caught:
        find_known_file(SHAKESPEARE)
    target = offline["home"] / "data"
    assert str(caught.value) == (
        f"tinyshakespeare.txt was not found; searched {target / 'tinyshakespeare.txt'}, and ZOO_OFFLINE=1 forbids "
        f"downloading. Put tinyshakespeare.txt (1115394 bytes, sha256 {SHAKESPEARE.sha256}) into {target}, "
        f"or set ZOO_DATA to the folder that has it. The file is at {SHAKESPEARE.url}"
    )


def test_wrong_checksum(offline, shakespeare_text):
    # Same size, one character changed: only the sha256 can tell.
    fake = offline["data"] / "tinyshakespeare.txt"
    fake.write_text("X" + shakespeare_text[1:], encoding="utf-8")
    digest = hashlib.sha256(fake.read_bytes()).hexdigest()
    with pytest.raises(DataError) as caught:
        TinyShakespeare(TinyShakespeareOptions()).split("train", 8)
    assert str(caught.value) == (
        f"{fake} has sha256 {digest}, but tinyshakespeare.txt must have 1115394 bytes and sha256 "
        f"{SHAKESPEARE.sha256}; the file is damaged or a different text. Delete it, or replace it with the "
        f"original from {SHAKESPEARE.url}"
    )


def test_wrong_size_is_not_skipped(offline, shakespeare_path):
    # A bad copy in ZOO_DATA is reported even when ZOO_HOME has a good one.
    fake = offline["data"] / "tinyshakespeare.txt"
    fake.write_text("not shakespeare\n")
    (offline["home"] / "data").mkdir(parents=True)
    shutil.copy(shakespeare_path, offline["home"] / "data" / "tinyshakespeare.txt")
    with pytest.raises(DataError) as caught:
        find_known_file(SHAKESPEARE)
    assert str(caught.value).startswith(f"{fake} has 16 bytes, but tinyshakespeare.txt must have 1115394 bytes")


@pytest.fixture
def loopback_server(shakespeare_path):
    """Serve files from a temporary mapping on 127.0.0.1; yield (base url, mapping of path -> bytes)."""
    files: dict[str, bytes] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", files
    server.shutdown()
    server.server_close()


@pytest.fixture
def online(offline, monkeypatch):
    monkeypatch.delenv("ZOO_OFFLINE")
    for variable in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(variable, raising=False)
    return offline


def test_download_verifies_and_stores(online, loopback_server, shakespeare_path, monkeypatch):
    url, files = loopback_server
    files["/input.txt"] = shakespeare_path.read_bytes()
    monkeypatch.setattr(_datasets, "SHAKESPEARE", dataclasses.replace(SHAKESPEARE, url=f"{url}/input.txt"))
    dataset = TinyShakespeare(TinyShakespeareOptions())
    assert dataset.info()["vocab_size"] == 65
    stored = online["home"] / "data" / "tinyshakespeare.txt"
    assert stored.read_bytes() == files["/input.txt"]
    assert sorted(p.name for p in stored.parent.iterdir()) == ["tinyshakespeare.txt"]


def test_download_with_wrong_content_keeps_nothing(online, loopback_server):
    url, files = loopback_server
    files["/input.txt"] = b"a different text\n"
    known = dataclasses.replace(SHAKESPEARE, url=f"{url}/input.txt")
    with pytest.raises(DataError) as caught:
        find_known_file(known)
    searched = f"{online['data'] / 'tinyshakespeare.txt'}, {online['home'] / 'data' / 'tinyshakespeare.txt'}"
    assert str(caught.value) == (
        f"tinyshakespeare.txt was not found and the file downloaded from {url}/input.txt has 17 bytes, but it must "
        f"have 1115394 bytes and sha256 {SHAKESPEARE.sha256}, so nothing was saved; searched {searched}. "
        f"{place(online).replace(SHAKESPEARE.url, known.url)}"
    )
    assert list((online["home"] / "data").iterdir()) == []


def test_download_failure_says_where_to_put_file(online, loopback_server):
    url, _ = loopback_server
    known = dataclasses.replace(SHAKESPEARE, url=f"{url}/missing.txt")
    with pytest.raises(DataError) as caught:
        find_known_file(known)
    searched = f"{online['data'] / 'tinyshakespeare.txt'}, {online['home'] / 'data' / 'tinyshakespeare.txt'}"
    assert str(caught.value) == (
        f"tinyshakespeare.txt was not found and the download from {url}/missing.txt failed (Not Found); "
        f"searched {searched}. {place(online).replace(SHAKESPEARE.url, known.url)}"
    )


# Splits and windows.

@pytest.fixture(scope="module")
def char_dataset(shakespeare_path):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZOO_DATA", str(shakespeare_path.parent))
        patch.setenv("ZOO_OFFLINE", "1")
        dataset = TinyShakespeare(TinyShakespeareOptions())
        dataset.split("train", 64)
        dataset.split("val", 64)
    return dataset


def decode_windows(dataset, windows) -> str:
    """Return the text that non-overlapping windows cover: the first input, then every target."""
    ids = windows[0][0][:1].tolist() + [i for index in range(len(windows)) for i in windows[index][1].tolist()]
    return dataset.decode(ids)


def test_val_split_is_last_tenth(char_dataset, shakespeare_text):
    cut = int(len(shakespeare_text) * 0.9)
    assert cut == 1_003_854
    val = char_dataset.split("val", 64)
    covered = decode_windows(char_dataset, val)
    expected = shakespeare_text[cut:]
    # Windows cover the split up to its last partial window.
    assert len(expected) - len(covered) < 64
    assert expected.startswith(covered)


def test_val_fraction_option(shakespeare_env, shakespeare_text):
    dataset = TinyShakespeare(TinyShakespeareOptions(val_fraction=0.25))
    val = dataset.split("val", 100)
    covered = decode_windows(dataset, val)
    expected = shakespeare_text[int(len(shakespeare_text) * 0.75):]
    assert expected.startswith(covered)
    assert len(expected) - len(covered) < 100


def test_train_split_has_every_offset(char_dataset, shakespeare_text):
    train = char_dataset.split("train", 64)
    assert len(train) == 1_003_854 - 64
    for index in (0, 1, 12345, len(train) - 1, -1):
        x, y = train[index]
        start = index % len(train)
        assert x.dtype == torch.long
        assert x.shape == (64,)
        assert char_dataset.decode(x.tolist()) == shakespeare_text[start:start + 64]
        assert char_dataset.decode(y.tolist()) == shakespeare_text[start + 1:start + 65]


def test_val_split_windows_do_not_overlap(char_dataset, shakespeare_text):
    val = char_dataset.split("val", 64)
    assert len(val) == (111_540 - 65) // 64 + 1
    first_x, first_y = val[0]
    second_x, second_y = val[1]
    assert torch.equal(second_x[0], first_y[-1])
    assert char_dataset.decode(second_y.tolist()) == shakespeare_text[1_003_854 + 65:1_003_854 + 129]


def test_window_index_out_of_range(char_dataset):
    val = char_dataset.split("val", 64)
    with pytest.raises(IndexError):
        val[len(val)]


def test_collate_stacks_batches(char_dataset):
    train = char_dataset.split("train", 64)
    x, y = char_dataset.collate([train[0], train[5], train[9]])
    assert x.shape == y.shape == (3, 64)
    assert x.dtype == y.dtype == torch.long


def test_info_of_char_dataset(char_dataset):
    assert char_dataset.info() == {"vocab_size": 65, "tokenizer": "char", "token_char_counts": 1}


@pytest.mark.parametrize("tokenizer, vocab_size", [("byte", 256), ("bpe", 300)])
def test_info_lists_counts_per_token(shakespeare_env, tokenizer, vocab_size):
    info = TinyShakespeare(TinyShakespeareOptions(tokenizer=tokenizer, vocab_size=300)).info()
    assert info["vocab_size"] == vocab_size
    assert info["tokenizer"] == tokenizer
    assert len(info["token_char_counts"]) == vocab_size


def test_unknown_split(char_dataset):
    assert char_dataset.splits() == ["train", "val"]
    with pytest.raises(DataError) as caught:
        char_dataset.split("test", 64)
    assert str(caught.value) == "tiny-shakespeare has no split 'test'; its splits are train, val"


@pytest.mark.parametrize("block_size", [None, 0])
def test_split_needs_block_size(char_dataset, block_size):
    with pytest.raises(ValidationError) as caught:
        char_dataset.split("train", block_size)
    assert str(caught.value.problems[0]) == (
        f"recipe: model.block_size: is {block_size!r}; the text datasets cut the text into windows of block_size "
        f"tokens, so the architecture needs a block_size option >= 1"
    )


def test_split_shorter_than_window(tmp_path, offline):
    (tmp_path / "short.txt").write_text("abcdefghij" * 10)
    dataset = TextFiles(TextFileOptions(path=str(tmp_path / "short.txt")))
    with pytest.raises(DataError) as caught:
        dataset.split("val", 10)
    assert str(caught.value) == (
        f"the val split of the text at {str(tmp_path / 'short.txt')!r} has 10 tokens, fewer than block_size + 1 = "
        f"11; use more text, a smaller block_size, or a larger data.val_fraction for val"
    )


def test_char_vocabulary_comes_from_train_split(tmp_path, offline):
    (tmp_path / "corpus.txt").write_text("ab" * 45 + "abcdefghiZ")
    dataset = TextFiles(TextFileOptions(path=str(tmp_path / "corpus.txt")))
    assert dataset.info()["vocab_size"] == 2
    with pytest.raises(DataError) as caught:
        dataset.split("val", 4)
    message = str(caught.value)
    assert message.startswith(f"cannot encode the val split of the text at {str(tmp_path / 'corpus.txt')!r}: "
                              f"the text contains 8 characters that the char vocabulary (2 characters")
    assert message.endswith("With the char tokenizer the vocabulary comes from the training split only")


# Artifacts, encoding and lineage.

@pytest.mark.parametrize("tokenizer, files", [("char", ["char_vocab.json"]), ("byte", []), ("bpe", ["tokenizer.json"])])
def test_artifacts_alone_encode_and_decode(shakespeare_env, offline, tmp_path, monkeypatch, tokenizer, files):
    options = TinyShakespeareOptions(tokenizer=tokenizer, vocab_size=300)
    trained = TinyShakespeare(options)
    artifacts = tmp_path / "entry"
    artifacts.mkdir()
    assert trained.save_artifacts(artifacts) == files
    prompt = "ROMEO:\nWherefore art thou?"
    ids = trained.encode(prompt)

    # No data file anywhere now: only the artifacts remain.
    monkeypatch.setenv("ZOO_DATA", str(offline["data"]))
    restored = TinyShakespeare(options, artifacts=artifacts)
    assert restored.encode(prompt) == ids
    assert restored.decode(ids) == prompt
    assert restored.info() == trained.info()
    with pytest.raises(DataError):
        restored.split("val", 8)


def test_artifacts_missing_file(tmp_path, offline):
    dataset = TinyShakespeare(TinyShakespeareOptions(), artifacts=tmp_path)
    with pytest.raises(DataError) as caught:
        dataset.encode("hello")
    assert str(caught.value).startswith(f"{tmp_path / 'char_vocab.json'} is missing; the char tokenizer")


def test_fingerprint_is_data_sha256(char_dataset):
    assert char_dataset.fingerprint() == {"tinyshakespeare.txt": SHAKESPEARE.sha256}


def test_construction_reads_nothing(offline):
    # The runner constructs datasets cheaply; a missing file shows only on first use.
    TinyShakespeare(TinyShakespeareOptions())
    TextFiles(TextFileOptions(path="does/not/exist.txt"))


# The text dataset: files, folders and globs.

@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "corpus"
    (folder / "b").mkdir(parents=True)
    (folder / "a.txt").write_text("first file without newline")
    (folder / "b" / "c.txt").write_text("second file\n")
    (folder / "b" / "d.md").write_text("third file\n")
    (folder / ".hidden.txt").write_text("hidden\n")
    return folder


def read_all(path: str, **options) -> str:
    dataset = TextFiles(TextFileOptions(path=path, val_fraction=0.5, **options))
    return "".join(dataset._split_texts().values())


def test_text_single_file(corpus, offline):
    assert read_all(str(corpus / "b" / "c.txt")) == "second file\n"


def test_text_folder_joins_sorted_files(corpus, offline):
    assert read_all(str(corpus)) == "first file without newline\nsecond file\nthird file\n"


def test_text_glob(corpus, offline, monkeypatch):
    monkeypatch.chdir(corpus)
    assert read_all("**/*.txt") == "first file without newline\nsecond file\n"


def test_text_fingerprint_hashes_each_file(corpus, offline):
    dataset = TextFiles(TextFileOptions(path=str(corpus / "b")))
    assert dataset.fingerprint() == {
        str(corpus / "b" / "c.txt"): hashlib.sha256(b"second file\n").hexdigest(),
        str(corpus / "b" / "d.md"): hashlib.sha256(b"third file\n").hexdigest(),
    }


def test_text_trains_with_bpe(corpus, offline, shakespeare_path):
    shutil.copy(shakespeare_path, corpus / "b" / "plays.txt")
    dataset = TextFiles(TextFileOptions(path=str(corpus / "b"), tokenizer="bpe", vocab_size=400))
    x, y = dataset.collate([dataset.split("train", 32)[0]])
    assert x.shape == (1, 32)
    assert dataset.info()["vocab_size"] == 400


def test_text_missing_path(tmp_path, offline, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError) as caught:
        read_all("nothing.txt")
    assert str(caught.value) == (f"nothing.txt does not exist (relative to {tmp_path}); set data.path to a text "
                                 f"file, a folder or a glob pattern")


def test_text_glob_without_matches(tmp_path, offline, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError) as caught:
        read_all("books/*.txt")
    assert str(caught.value) == (f"the pattern 'books/*.txt' matches no files (relative to {tmp_path}); check the "
                                 f"pattern, and use '**' with a folder to match files in sub-folders")


def test_text_empty_folder(tmp_path, offline):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError) as caught:
        read_all(str(tmp_path / "empty"))
    assert str(caught.value) == (f"the folder {tmp_path / 'empty'} contains no files; put text files in it or point "
                                 f"path at a file")


def test_text_empty_file(tmp_path, offline):
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(DataError) as caught:
        read_all(str(tmp_path / "empty.txt"))
    assert str(caught.value) == (f"the text at {str(tmp_path / 'empty.txt')!r} is empty; point data.path at files "
                                 f"that contain text")


def test_text_wrong_encoding(tmp_path, offline):
    (tmp_path / "latin.txt").write_bytes("café".encode("latin-1"))
    with pytest.raises(DataError) as caught:
        read_all(str(tmp_path / "latin.txt"))
    assert str(caught.value) == (f"{tmp_path / 'latin.txt'} is not valid utf-8: byte 0xe9 at offset 3 cannot be "
                                 f"decoded; set data.encoding to the file's encoding, such as latin-1")
    assert read_all(str(tmp_path / "latin.txt"), encoding="latin-1") == "café"


def test_text_unknown_encoding(tmp_path, offline):
    (tmp_path / "a.txt").write_text("hello")
    with pytest.raises(DataError) as caught:
        read_all(str(tmp_path / "a.txt"), encoding="utf-9")
    assert str(caught.value) == ("data.encoding 'utf-9' is not a known text encoding; use a name such as utf-8, "
                                 "latin-1 or cp1252")
