"""Export to and import from transformers' GPT-2 format, checked against transformers itself.

Every transformers model here is built inside the test from a config (tiny
GPT-2 sizes); nothing is downloaded.
"""

from __future__ import annotations

import json
import os

import pytest
import torch
from safetensors.torch import save_file

from inference_testing import tiny_zoo
from zoo_registry import DataError, ValidationError, WeightsError, get_registry, resolve_entry

transformers = pytest.importorskip("transformers")

from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2Config, GPT2LMHeadModel  # noqa: E402

from zoo.export import import_hf  # noqa: E402
from zoo.export._gpt2 import from_gpt2_state, gpt2_config, to_gpt2_state  # noqa: E402
from zoo.export._tokenizer import export_tokenizer, find_tokenizer  # noqa: E402
from zoo.runner import load_entry  # noqa: E402
from zoo_text import GPT, BPETokenizer, ByteTokenizer  # noqa: E402
from zoo_text.options import GPTOptions  # noqa: E402

SAMPLE = "ROMEO:\nWhat light through yonder window breaks?\n\n  It is the east."


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    return tiny_zoo(tmp_path_factory)


def load(path):
    return load_entry(resolve_entry(get_registry(), str(path)))


def tokens(vocab_size, length, batch=3, seed=0):
    return torch.randint(0, vocab_size, (batch, length), generator=torch.Generator().manual_seed(seed))


def tiny_gpt2(folder, *, vocab_size=300, tie=True, activation="gelu", seed=0, **config):
    """Create and save a randomly initialized tiny GPT-2 with transformers; return the model."""
    torch.manual_seed(seed)
    settings = dict(vocab_size=vocab_size, n_positions=32, n_embd=32, n_layer=2, n_head=2,
                    activation_function=activation, tie_word_embeddings=tie, bos_token_id=None, eos_token_id=None)
    settings.update(config)
    model = GPT2LMHeadModel(GPT2Config(**settings)).eval()
    with torch.no_grad():  # GPT-2 starts with zero biases; random ones make the import see them
        for name, parameter in model.named_parameters():
            if name.endswith(".bias"):
                parameter.normal_(std=0.1)
    model.save_pretrained(folder)
    return model


def bpe_tokenizer(folder, vocab_size=300):
    """Train a byte-level BPE on Tiny Shakespeare and save it as transformers does; return its size."""
    text = open(os.path.join(os.environ["ZOO_DATA"], "tinyshakespeare.txt"), encoding="utf-8").read()[:50_000]
    trained = BPETokenizer.train(text, vocab_size)
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=trained.tokenizer)
    fast.save_pretrained(folder)
    return trained.vocab_size


# The weight mapping, in memory, for every layout option of zoo's GPT.


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("tie", [True, False])
def test_gpt2_mapping_matches_transformers(tmp_path, bias, tie):
    torch.manual_seed(1)
    options = GPTOptions(n_layer=2, n_head=4, d_model=32, block_size=16, bias=bias, tie_weights=tie)
    model = GPT(options, 70).eval()
    if bias:  # biases start at zero; random ones make the test see them
        for name, parameter in model.named_parameters():
            if name.endswith(".bias"):
                torch.nn.init.normal_(parameter, std=0.1)
    save_file(to_gpt2_state(model.state_dict(), 2, tie), str(tmp_path / "model.safetensors"),
              metadata={"format": "pt"})
    (tmp_path / "config.json").write_text(json.dumps(gpt2_config(options, 70)))

    reference = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    assert type(reference).__name__ == "GPT2LMHeadModel"
    ids = tokens(70, 16)
    with torch.no_grad():
        difference = (model(ids) - reference(ids).logits).abs().max().item()
    assert difference <= 1e-5

    back = GPT(options, 70).eval()
    gpt2_tensors = {k: v for k, v in reference.state_dict().items()}
    back.load_state_dict(from_gpt2_state(gpt2_tensors, bias, tie), strict=True)
    with torch.no_grad():
        assert torch.equal(back(ids), model(ids))


# zoo export --format hf on a trained entry.


def test_export_hf_loads_in_transformers(zoo, tmp_path):
    out = tmp_path / "tiny-gpt-hf"
    result = zoo.zoo("export", "tiny-gpt", "--format", "hf", "--output", str(out), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["entry"] == "tiny-gpt@v1"
    assert report["files"] == ["README.md", "char_vocab.json", "config.json", "model.safetensors", "tokenizer.json",
                               "tokenizer_config.json"]
    assert report["max_logit_difference"] <= 1e-5
    assert sorted(p.name for p in out.iterdir()) == report["files"]
    assert json.loads((out / "config.json").read_text())["model_type"] == "gpt2"

    zoo_model = load(zoo.entry("tiny-gpt"))
    reference = AutoModelForCausalLM.from_pretrained(out).eval()
    ids = tokens(65, 32)
    with torch.no_grad():
        assert (zoo_model.model(ids) - reference(ids).logits).abs().max().item() <= 1e-5

    tokenizer = AutoTokenizer.from_pretrained(out)
    expected = list(zoo_model.dataset.encode(SAMPLE))
    assert tokenizer(SAMPLE).input_ids == expected
    assert tokenizer.decode(expected) == SAMPLE

    # Greedy decoding agrees token for token between zoo and transformers' generate().
    prompt = torch.tensor([expected[:8]])
    ours = zoo_model.model.generate(prompt, 16, temperature=0)
    theirs = reference.generate(prompt, max_new_tokens=16, do_sample=False, attention_mask=torch.ones_like(prompt))
    assert ours.tolist() == theirs.tolist()

    card = (out / "README.md").read_text()
    assert "library_name: transformers" in card
    assert "zoo export tiny-gpt --format hf" in card


def test_export_hf_rejects_existing_output_without_force(zoo, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("old")
    refused = zoo.zoo("export", "tiny-gpt", "--format", "hf", "--output", str(out), "--no-check")
    assert refused.returncode == 1
    assert f"error: {out} already exists; pass --force to replace it, or choose another path with --output" \
        in " ".join(refused.stderr.split())
    assert (out / "keep.txt").read_text() == "old"

    replaced = zoo.zoo("export", "tiny-gpt", "--format", "hf", "--output", str(out), "--no-check", "--force")
    assert replaced.returncode == 0, replaced.stderr
    assert not (out / "keep.txt").exists()
    assert (out / "model.safetensors").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging folder left behind


def test_export_hf_rejects_classifier(zoo, tmp_path):
    result = zoo.zoo("export", "tiny-cnn", "--format", "hf", "--output", str(tmp_path / "x"))
    assert result.returncode == 1
    assert ("error: entry tiny-cnn@v1 has architecture 'cnn' of zoo-vision; --format hf exports GPT entries "
            "(architecture gpt of zoo-text) only. Use 'zoo export tiny-cnn --format onnx' instead") \
        in " ".join(result.stderr.split())
    assert not (tmp_path / "x").exists()


def test_export_rejects_unknown_format(zoo):
    result = zoo.zoo("export", "tiny-gpt", "--format", "tflite")
    assert result.returncode == 1
    assert "command line: --format: 'tflite' is not a format; use one of hf, onnx" in result.stderr


def test_export_needs_weights(zoo, tmp_path):
    folder = zoo.project / "cards" / "untrained"
    folder.mkdir(exist_ok=True)
    (folder / "README.md").write_text((zoo.project / "cards" / "tiny-gpt" / "README.md").read_text())
    (folder / "recipe.yaml").write_text((zoo.project / "cards" / "tiny-gpt" / "recipe.yaml").read_text())
    result = zoo.zoo("export", "untrained", "--format", "hf", "--output", str(tmp_path / "x"))
    assert result.returncode == 1
    assert "has no weights (model.safetensors); train it with 'zoo train untrained'" in " ".join(result.stderr.split())


# Tokenizers in transformers' form.


def test_byte_tokenizer_export_matches_zoo(tmp_path):
    entry_folder, out = tmp_path / "entry", tmp_path / "out"
    entry_folder.mkdir()
    out.mkdir()
    written = export_tokenizer("byte", entry_folder, out, 64)
    assert written.files == ["tokenizer.json", "tokenizer_config.json"]
    tokenizer = AutoTokenizer.from_pretrained(out)
    text = SAMPLE + " héllo 日本\t"
    assert tokenizer(text).input_ids == ByteTokenizer().encode(text).tolist()
    assert tokenizer.decode(ByteTokenizer().encode(text).tolist()) == text
    assert find_tokenizer(out).kind == "byte"


def test_bpe_tokenizer_export_matches_zoo(tmp_path):
    entry_folder, out = tmp_path / "entry", tmp_path / "out"
    entry_folder.mkdir()
    out.mkdir()
    text = open(os.path.join(os.environ["ZOO_DATA"], "tinyshakespeare.txt"), encoding="utf-8").read()[:20_000]
    zoo_tokenizer = BPETokenizer.train(text, 300)
    zoo_tokenizer.save(entry_folder)
    export_tokenizer("bpe", entry_folder, out, 64)
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert tokenizer(SAMPLE).input_ids == zoo_tokenizer.encode(SAMPLE).tolist()
    assert tokenizer.decode(zoo_tokenizer.encode(SAMPLE).tolist()) == SAMPLE
    assert find_tokenizer(out).kind == "bpe"


def test_unknown_tokenizer_kind_is_reported(tmp_path):
    written = export_tokenizer("sentencepiece", tmp_path, tmp_path, 64)
    assert written.files == []
    assert written.note == ("the 'sentencepiece' tokenizer has no transformers form; the folder has no tokenizer, "
                            "so encode prompts with zoo")


# zoo import hf.


def test_import_hf_tiny_gpt2(zoo, tmp_path):
    folder = tmp_path / "gpt2-tiny"
    vocab_size = bpe_tokenizer(folder)
    reference = tiny_gpt2(folder, vocab_size=vocab_size)

    result = zoo.zoo("import", "hf", str(folder), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["entry"] == "gpt2-tiny@v1"
    assert report["tokenizer"] == "bpe"
    assert report["max_logit_difference"] <= 1e-5
    entry = zoo.entry("gpt2-tiny")
    assert sorted(p.name for p in entry.iterdir()) == ["README.md", "config.json", "model.safetensors",
                                                       "recipe.yaml", "tokenizer.json"]
    validated = zoo.zoo("validate", str(entry))
    assert validated.returncode == 0, validated.stderr

    loaded = load(entry)
    parameters = sum(p.numel() for p in reference.parameters())
    assert loaded.entry.zoo["parameters"] == parameters
    assert loaded.recipe.model.options.bias is True
    ids = tokens(vocab_size, 32)
    with torch.no_grad():
        assert (loaded.model(ids) - reference(ids).logits).abs().max().item() <= 1e-5

    # zoo generate on the imported entry continues a prompt exactly as transformers does, greedily.
    prompt = "ROMEO:"
    generated = zoo.zoo("generate", "gpt2-tiny", prompt, "-n", "12", "--temperature", "0")
    assert generated.returncode == 0, generated.stderr
    tokenizer = AutoTokenizer.from_pretrained(folder)
    ids = tokenizer(prompt, return_tensors="pt").input_ids
    expected = reference.generate(ids, max_new_tokens=12, do_sample=False, attention_mask=torch.ones_like(ids))
    assert generated.stdout == prompt + tokenizer.decode(expected[0, ids.size(1):].tolist()) + "\n"


def test_export_then_import_round_trip(zoo, tmp_path):
    out = tmp_path / "tiny-gpt-hf"
    assert zoo.zoo("export", "tiny-gpt", "--format", "hf", "--output", str(out), "--no-check").returncode == 0
    imported = zoo.zoo("import", "hf", str(out), "--name", "tiny-gpt-back")
    assert imported.returncode == 0, imported.stderr
    assert f"imported {out} as tiny-gpt-back@v1" in " ".join(imported.stdout.split())

    original, back = load(zoo.entry("tiny-gpt")), load(zoo.entry("tiny-gpt-back"))
    assert back.recipe.model.options == original.recipe.model.options
    assert back.entry.zoo["parameters"] == original.entry.zoo["parameters"]
    assert back.dataset.tokenizer.chars == original.dataset.tokenizer.chars
    for name, tensor in original.model.state_dict().items():
        assert torch.equal(back.model.state_dict()[name], tensor), name

    first = zoo.zoo("generate", "tiny-gpt", "ROMEO:", "-n", "30", "--seed", "7")
    second = zoo.zoo("generate", "tiny-gpt-back", "ROMEO:", "-n", "30", "--seed", "7")
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout


@pytest.fixture
def store(zoo_env):
    return zoo_env


def test_import_untied_gpt2_in_process(store, tmp_path):
    folder = tmp_path / "untied"
    vocab_size = bpe_tokenizer(folder)
    reference = tiny_gpt2(folder, vocab_size=vocab_size, tie=False, seed=3)
    result = import_hf(folder, "untied")
    assert result.path == store["home"] / "entries" / "untied" / "v1"
    assert result.max_logit_difference <= 1e-5
    loaded = load(result.path)
    assert loaded.recipe.model.options.tie_weights is False
    assert result.parameters == sum(p.numel() for p in reference.parameters())
    ids = tokens(vocab_size, 20)
    with torch.no_grad():
        assert (loaded.model(ids) - reference(ids).logits).abs().max().item() <= 1e-5


@pytest.mark.parametrize("activation", ["gelu_new", "gelu_pytorch_tanh"])
def test_import_gpt2_tanh_gelu(store, tmp_path, activation):
    # Released GPT-2 checkpoints use the tanh approximation of GELU ("gelu_new").
    folder = tmp_path / activation
    vocab_size = bpe_tokenizer(folder)
    reference = tiny_gpt2(folder, vocab_size=vocab_size, activation=activation, seed=5)
    result = import_hf(folder, "tanh")
    assert result.max_logit_difference <= 1e-5
    loaded = load(result.path)
    assert loaded.recipe.model.options.activation == "gelu_tanh"
    ids = tokens(vocab_size, 20)
    with torch.no_grad():
        assert (loaded.model(ids) - reference(ids).logits).abs().max().item() <= 1e-5


def test_tanh_gelu_exports_as_gelu_new():
    options = GPTOptions(n_layer=1, n_head=2, d_model=16, block_size=8, activation="gelu_tanh")
    assert gpt2_config(options, 20)["activation_function"] == "gelu_new"
    assert gpt2_config(GPTOptions(n_layer=1, n_head=2, d_model=16, block_size=8), 20)["activation_function"] == "gelu"


def test_import_tokenizer_smaller_than_vocabulary(store, tmp_path):
    folder = tmp_path / "padded"
    vocab_size = bpe_tokenizer(folder)
    tiny_gpt2(folder, vocab_size=vocab_size + 12)
    result = import_hf(folder, "padded")
    assert result.notes == [f"the model has {vocab_size + 12} token embeddings but the tokenizer only {vocab_size} "
                            f"tokens; decoding a sampled id above {vocab_size - 1} fails"]
    assert load(result.path).model.vocab_size == vocab_size + 12


def write_config(folder, **changes):
    config = json.loads((folder / "config.json").read_text())
    config.update(changes)
    (folder / "config.json").write_text(json.dumps(config))


def test_import_rejects_bad_folders(store, tmp_path):
    with pytest.raises(DataError) as missing:
        import_hf(tmp_path / "nowhere", "x")
    assert str(missing.value) == f"{tmp_path / 'nowhere'} is not a folder; pass the folder that save_pretrained wrote"

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError) as no_config:
        import_hf(empty, "x")
    assert str(no_config.value) == (f"{empty / 'config.json'} is missing; a transformers checkpoint folder has "
                                    f"config.json beside its weights. Write the folder with "
                                    f"model.save_pretrained(folder)")

    folder = tmp_path / "gpt2"
    vocab_size = bpe_tokenizer(folder)
    tiny_gpt2(folder, vocab_size=vocab_size)
    with pytest.raises(ValidationError) as bad_name:
        import_hf(folder, "../escape")
    assert "'../escape' is not a valid entry name" in str(bad_name.value)

    write_config(folder, model_type="llama", activation_function="relu", layer_norm_epsilon=1e-6)
    with pytest.raises(ValidationError) as unsupported:
        import_hf(folder, "x")
    config_path = folder / "config.json"
    assert unsupported.value.problems[0].field == "model_type"
    assert str(unsupported.value) == (
        "3 problems found:\n"
        f"  {config_path}: model_type: is 'llama'; zoo imports GPT-2 checkpoints only (model_type 'gpt2', as "
        "GPT2LMHeadModel.save_pretrained writes it)\n"
        f"  {config_path}: activation_function: is 'relu'; zoo's GPT supports 'gelu', 'gelu_new', "
        "'gelu_pytorch_tanh', so the logits of a model trained with 'relu' would differ\n"
        f"  {config_path}: layer_norm_epsilon: is 1e-06; zoo's GPT uses 1e-05")

    write_config(folder, model_type="gpt2", activation_function="gelu", layer_norm_epsilon=1e-5, n_embd=64)
    with pytest.raises(WeightsError) as wrong_shape:
        import_hf(folder, "x")
    assert str(wrong_shape.value).startswith(f"the weights in {folder} do not fit the GPT that config.json "
                                             f"describes: Error(s) in loading state_dict for GPT: size mismatch")
    write_config(folder, n_embd=32)

    (folder / "tokenizer.json").unlink()
    with pytest.raises(DataError) as no_tokenizer:
        import_hf(folder, "x")
    assert str(no_tokenizer.value) == (
        f"{folder} has no tokenizer (tokenizer.json, char_vocab.json, or vocab.json with merges.txt); zoo needs it "
        f"to encode prompts. Save it into the folder with tokenizer.save_pretrained({str(folder)!r})")

    (folder / "model.safetensors").rename(folder / "pytorch_model.bin")
    with pytest.raises(WeightsError) as pickled:
        import_hf(folder, "x")
    assert str(pickled.value) == (
        f"{folder} has weights only in pickle files (pytorch_model.bin); zoo never loads pickles, because loading "
        f"one can run code. Convert them with transformers: "
        f"AutoModelForCausalLM.from_pretrained(folder).save_pretrained(folder)")
    assert not (store["home"] / "entries" / "x").exists() or not any(
        p.name.startswith("v") for p in (store["home"] / "entries" / "x").iterdir())


def test_import_rejects_tokenizer_larger_than_vocabulary(store, tmp_path):
    folder = tmp_path / "small"
    vocab_size = bpe_tokenizer(folder)
    tiny_gpt2(folder, vocab_size=vocab_size - 10)
    with pytest.raises(DataError) as error:
        import_hf(folder, "small")
    assert str(error.value) == (f"the tokenizer of {folder} has {vocab_size} tokens but the model's vocab_size is "
                                f"{vocab_size - 10}; the tokenizer does not belong to these weights")
