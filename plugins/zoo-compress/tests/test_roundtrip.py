"""``zoo compress`` end to end on tiny real entries: compress, store, load, and get the same outputs back;
the card and recipe of the new entry; and every bad input rejected before any work."""

from __future__ import annotations

import shutil

import pytest
import torch

from zoo_registry import (ValidationError, WeightsError, ZooError, get_registry, read_card, resolve_entry,
                          zoo_home)
from zoo_testing import run_zoo

from zoo.compression import compress, parse_arguments, plan_compression
from zoo.runner import evaluate_entry, load_entry, train_entry


def compressed(base: str, arguments: str, name: str | None = None):
    steps, overrides = parse_arguments(arguments.split())
    return compress(plan_compression(base, steps, overrides, name), speed_rounds=1, generate_tokens=3)


def first_batch(loaded) -> torch.Tensor:
    split = loaded.dataset.split("val", loaded.block_size)
    return loaded.dataset.collate([split[i] for i in range(4)])[0]


ROUND_TRIPS = {
    "int8-gpt": ("tiny-gpt", "--with int8-dynamic"),
    "int8-lstm": ("tiny-lstm", "--with int8-dynamic"),
    "int8-gru": ("tiny-gru", "--with int8-dynamic"),
    "prune-unstructured": ("tiny-gpt", "--with prune sparsity=0.5 finetune_steps=2"),
    "prune-structured-gpt": ("tiny-gpt", "--with prune method=structured sparsity=0.5 finetune_steps=2"),
    "prune-structured-cnn": ("tiny-cnn", "--with prune method=structured sparsity=0.5 finetune_steps=2"),
    "low-rank": ("tiny-gpt", "--with low-rank rank=4 finetune_steps=2"),
    "half": ("tiny-gpt", "--with half dtype=bf16"),
    "distill": ("tiny-gpt", "--with distill model.n_layer=1 train.max_steps=2"),
    "prune-then-int8": ("tiny-gpt", "--with prune sparsity=0.5 --with int8-dynamic"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", ROUND_TRIPS, ids=str)
def test_roundtrip_same_outputs(store, case):
    base, arguments = ROUND_TRIPS[case]
    result = compressed(base, arguments, f"{base}-{case}")

    entry = resolve_entry(get_registry(), result.name)
    assert entry.path == result.path
    loaded = load_entry(entry)
    inputs = first_batch(loaded)
    with torch.no_grad():
        expected = result.model.eval()(inputs)
        actual = loaded.model(inputs)
    assert torch.equal(actual, expected)

    # zoo eval on the stored entry reproduces the metrics in its card, which rounds them to 6 decimals.
    assert evaluate_entry(entry) == pytest.approx(entry.zoo["metrics"], rel=1e-5, abs=1e-6)


def test_card_names_base_and_steps(store):
    result = compressed("tiny-gpt", "--with prune sparsity=0.5 --with int8-dynamic", "tiny-gpt-card")
    card = read_card(result.path / "README.md")
    zoo = card.data.to_dict()["zoo"]
    assert zoo["base"] == "tiny-gpt"
    assert zoo["lineage"]["source_entry"] == "tiny-gpt@v1"
    assert [s["compressor"] for s in zoo["compression"]["steps"]] == ["prune", "int8-dynamic"]
    assert zoo["parameters"] == result.rows[1].compressed
    assert set(zoo["compression"]["comparison"]) == {
        "file size", "weights", "non-zero weights", "val_loss", "latency (batch 1)", "throughput (batch 8)",
        "generation (3 tokens)"}
    assert "| file size |" in card.text
    assert "Base entry: `tiny-gpt@v1`. Steps, in order: `prune`, `int8-dynamic`." in card.text
    recipe = (result.path / "recipe.yaml").read_text()
    assert "base: tiny-gpt\n" in recipe
    assert "- compressor: prune\n" in recipe
    assert sorted(p.name for p in result.path.iterdir()) == [
        "README.md", "char_vocab.json", "config.json", "model.safetensors", "recipe.yaml"]


def test_nonzero_count_after_pruning(store):
    result = compressed("tiny-gpt", "--with prune sparsity=0.5", "tiny-gpt-sparse")
    rows = {row.name: row for row in result.rows}
    assert rows["weights"].compressed == rows["weights"].base
    assert rows["non-zero weights"].compressed < 0.7 * rows["non-zero weights"].base


def test_structured_prune_shrinks_file(store):
    result = compressed("tiny-cnn", "--with prune method=structured sparsity=0.5", "tiny-cnn-small")
    rows = {row.name: row for row in result.rows}
    assert rows["weights"].compressed < 0.5 * rows["weights"].base
    assert rows["file size"].compressed < 0.6 * rows["file size"].base
    recipe = (result.path / "recipe.yaml").read_text()
    assert "pruned_units:" in recipe


def test_compress_compressed_entry_keeps_root_base(store):
    compressed("tiny-gpt", "--with prune sparsity=0.5", "tiny-gpt-step1")
    result = compressed("tiny-gpt-step1", "--with int8-dynamic", "tiny-gpt-step2")
    loaded = load_entry(resolve_entry(get_registry(), "tiny-gpt-step2"))
    assert loaded.recipe.base == "tiny-gpt"
    assert [s.component.spec.name for s in loaded.recipe.compress] == ["prune", "int8-dynamic"]
    inputs = first_batch(loaded)
    with torch.no_grad():
        assert torch.equal(loaded.model(inputs), result.model(inputs))


def test_card_with_steps_builds_entry(store):
    folder = store["project"] / "cards" / "tiny-gpt-half"
    folder.mkdir()
    base_recipe = (store["project"] / "cards" / "tiny-gpt" / "recipe.yaml").read_text()
    (folder / "recipe.yaml").write_text("base: tiny-gpt\n" + base_recipe + "compress:\n  - compressor: half\n")
    (folder / "README.md").write_text("---\nlibrary_name: zoo\nzoo:\n  architecture: gpt\n  task: text-generation\n"
                                      "---\n\n# tiny-gpt-half\n\nHand-written card text.\n")
    steps, overrides = parse_arguments([])
    result = compress(plan_compression("tiny-gpt-half", steps, overrides), speed_rounds=1, generate_tokens=2)
    assert result.path.parent.name == "tiny-gpt-half"
    assert "Hand-written card text." in (result.path / "README.md").read_text()

    with pytest.raises(ZooError) as caught:
        train_entry(resolve_entry(get_registry(), "tiny-gpt-half"), [])
    assert str(caught.value) == ("entry 'tiny-gpt-half' is compressed from tiny-gpt (half), so training it from "
                                 "scratch would not fit its weights; build it with 'zoo compress tiny-gpt-half'")
    shutil.rmtree(folder)


def rejected(base: str, arguments: str) -> str:
    """Return the error text of a compression that must fail before any work, and check nothing was stored."""
    with pytest.raises(ZooError) as caught:
        compressed(base, arguments, "never-stored")
    assert not (zoo_home() / "entries" / "never-stored").exists()
    return str(caught.value)


def test_rejects_sparsity_out_of_range(store):
    assert rejected("tiny-gpt", "--with prune sparsity=1.5") == (
        "1 problem found:\n  command line: compress[0].sparsity: 1.5 is out of range; it must be < 1")


def test_rejects_zero_sparsity(store):
    assert rejected("tiny-gpt", "--with prune sparsity=0") == (
        "1 problem found:\n  command line: compress[0].sparsity: 0.0 is out of range; it must be > 0")


def test_rejects_unknown_compressor(store):
    message = rejected("tiny-gpt", "--with prunee")
    assert "compress[0].compressor: " in message
    assert "Did you mean 'prune'?" in message


def test_rejects_rank_larger_than_layer(store):
    assert rejected("tiny-gpt", "--with low-rank rank=40") == (
        "low-rank rank=40 is larger than transformer.h.0.attn.c_attn (96 x 32, max rank 32), "
        "transformer.h.0.attn.c_proj (32 x 32, max rank 32), transformer.h.0.mlp.c_fc (128 x 32, max rank 32), "
        "transformer.h.0.mlp.c_proj (32 x 128, max rank 32), transformer.h.1.attn.c_attn (96 x 32, max rank 32), "
        "transformer.h.1.attn.c_proj (32 x 32, max rank 32), transformer.h.1.mlp.c_fc (128 x 32, max rank 32), "
        "transformer.h.1.mlp.c_proj (32 x 128, max rank 32); a rank can be at most the smaller side of the weight "
        "matrix, so lower rank or add these layers to skip")


def test_rejects_structured_prune_of_lstm(store):
    assert rejected("tiny-lstm", "--with prune method=structured") == (
        "prune method=structured found no layers to shrink in RecurrentLM: it removes output neurons of an nn.Linear "
        "or channels of an nn.Conv that reach the next layer of the same kind only through activations, dropout, "
        "batch norm or pooling; use method=unstructured")


def test_rejects_teacher_with_other_tokenizer(store):
    assert rejected("tiny-gpt", "--with distill teacher=tiny-gpt-bytes model.n_layer=1 train.max_steps=2") == (
        "distill teacher 'tiny-gpt-bytes' encodes data differently from the student (tokenizer: teacher 'byte', "
        "student 'char'; vocab_size: teacher 256, student 65; token_char_counts: teacher [1, 1, 1, 1, 1, 1, 1, 1, "
        "1, 1, 1, 1, 1, ..., student 1), so its outputs do not line up with the student's; use a teacher trained with "
        "the same data section, including the tokenizer")


def test_rejects_model_change_without_distill(store):
    message = rejected("tiny-gpt", "--with int8-dynamic model.n_layer=1")
    assert message.endswith("model: differs from the model section of base entry tiny-gpt@v1; only a first step "
                            "that trains a new model (distill) can change it, so copy the base's model section or "
                            "start with distill")


def test_rejects_data_change(store):
    message = rejected("tiny-gpt", "--with int8-dynamic data.val_fraction=0.05")
    assert message.endswith("data: differs from the data section of base entry tiny-gpt@v1; a compressed entry is "
                            "evaluated on its base's data, so copy the base's data section")


def test_rejects_base_without_weights(store):
    folder = store["project"] / "cards" / "untrained"
    shutil.copytree(store["project"] / "cards" / "tiny-gpt", folder)
    try:
        with pytest.raises(WeightsError) as caught:
            compressed("untrained", "--with int8-dynamic")
    finally:
        shutil.rmtree(folder)
    assert str(caught.value) == "base entry 'untrained' has no weights to compress; train it first with 'zoo train untrained'"


def test_rejects_option_before_with():
    with pytest.raises(ValidationError) as caught:
        parse_arguments(["sparsity=0.5", "--with", "prune"])
    assert str(caught.value) == ("1 problem found:\n  command line: sparsity=0.5: comes before any --with; write it "
                                 "after the compressor it belongs to, e.g. --with prune sparsity=0.5")


def test_rejects_with_without_name():
    with pytest.raises(ValidationError) as caught:
        parse_arguments(["--with", "--name"])
    assert str(caught.value) == ("1 problem found:\n  command line: --with: needs a compressor name, got '--name'; "
                                 "for example --with int8-dynamic")


def test_rejects_invalid_entry_name(store):
    steps, overrides = parse_arguments(["--with", "half"])
    with pytest.raises(ValidationError) as caught:
        plan_compression("tiny-gpt", steps, overrides, "Bad Name")
    assert str(caught.value) == ("1 problem found:\n  command line: --name: 'Bad Name' is not a valid entry name; "
                                 "use lowercase letters, digits, '.', '-' or '_', e.g. char-gpt-int8")


@pytest.mark.slow
def test_cli_compress_then_eval_check(store):
    result = run_zoo("compress", "tiny-gpt", "--with", "prune", "sparsity=0.4", "--with", "int8-dynamic",
                     "--name", "tiny-gpt-cli", cwd=store["project"])
    assert result.returncode == 0, result.stderr
    assert "file size" in result.stdout
    assert "non-zero weights" in result.stdout
    assert "next: zoo eval tiny-gpt-cli --check" in result.stdout
    checked = run_zoo("eval", "tiny-gpt-cli", "--check", cwd=store["project"])
    assert checked.returncode == 0, checked.stderr
    assert "check passed" in checked.stdout


def test_cli_bad_sparsity_message(store):
    result = run_zoo("compress", "tiny-gpt", "--with", "prune", "sparsity=2", cwd=store["project"])
    assert result.returncode == 1
    assert "compress[0].sparsity: 2.0 is out of range; it must be < 1" in result.stderr
    assert "Traceback" not in result.stderr
