"""``zoo export`` (transformers GPT-2 folder, ONNX file) and ``zoo import hf``."""

from __future__ import annotations

from pathlib import Path

import typer

from zoo_registry import Problem, ValidationError

from ._app import app
from ._output import console, error_console, print_json
from ._train import resolve_with_weights

FORMATS = ("hf", "onnx")

import_app = typer.Typer(help="Turn checkpoints of other libraries into zoo entries.", no_args_is_help=True)
app.add_typer(import_app, name="import")


def _default_output(name: str, format_name: str) -> Path:
    base = name.replace("@", "-")
    return Path(f"{base}-hf" if format_name == "hf" else f"{base}.onnx")


def _print_notes(notes: list[str]) -> None:
    for note in notes:
        error_console().print(f"note: {note}", soft_wrap=True)


@app.command("export")
def export_command(
    name: str = typer.Argument(..., help="Entry with weights: name, name@version or a path to an entry folder."),
    format_name: str = typer.Option(..., "--format", "-f", help="hf: a transformers GPT-2 folder (GPT entries); "
                                    "onnx: an ONNX file of the forward pass."),
    output: Path = typer.Option(None, "--output", "-o", help="Folder (hf) or file (onnx) to write "
                                "(default: ./<entry>-hf or ./<entry>.onnx)."),
    force: bool = typer.Option(False, "--force", help="Replace the output if it exists."),
    check: bool = typer.Option(True, "--check/--no-check", help="Load the result with transformers (hf) or "
                               "onnxruntime (onnx), when installed, and compare its outputs with zoo's."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Write an entry in a format that transformers or ONNX runtimes read.

    --format hf writes config.json (model_type gpt2), model.safetensors, the
    tokenizer (tokenizer.json) and a card, so that
    AutoModelForCausalLM.from_pretrained and AutoTokenizer.from_pretrained load
    the folder. --format onnx writes the forward pass with dynamic batch (and
    token) axes.

    Examples:

        zoo export char-gpt --format hf

        zoo export char-gpt@v2 --format hf --output exports/char-gpt --force

        zoo export digits-cnn --format onnx --output digits.onnx
    """
    if format_name not in FORMATS:
        raise ValidationError([Problem("command line", "--format", f"{format_name!r} is not a format; use one of "
                                                                   f"{', '.join(FORMATS)}")])
    entry = resolve_with_weights(name)
    output = output or _default_output(entry.name, format_name)
    if format_name == "hf":
        from ..export import export_hf

        result = export_hf(entry, output, force=force, check=check)
        details = {"files": result.files, "max_logit_difference": result.max_logit_difference}
        checked, compared = "transformers", "logit"
        difference = result.max_logit_difference
    else:
        from ..export import export_onnx

        result = export_onnx(entry, output, force=force, check=check)
        details = {"input_shape": result.input_shape, "input_dtype": result.input_dtype,
                   "max_output_difference": result.max_output_difference}
        checked, compared = "onnxruntime", "output"
        difference = result.max_output_difference
    if as_json:
        print_json({"entry": entry.label, "format": format_name, "path": str(result.path), **details,
                    "notes": result.notes})
        return
    _print_notes(result.notes)
    message = f"exported {entry.label} to {result.path} ({format_name})"
    if difference is not None:
        message += f"; {checked} matches zoo to {difference:.2g} (largest {compared} difference)"
    console().print(message, soft_wrap=True)


@import_app.command("hf")
def import_hf_command(
    folder: Path = typer.Argument(..., help="Folder of a GPT-2 checkpoint, as save_pretrained writes it."),
    name: str = typer.Option(None, "--name", help="Entry name in the store (default: the folder's name)."),
    check: bool = typer.Option(True, "--check/--no-check", help="Load the folder with transformers, when "
                               "installed, and compare its logits with the imported model's."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Import a transformers GPT-2 checkpoint as a new store entry with a card.

    The folder needs config.json (model_type gpt2), model.safetensors (or
    sharded safetensors) and a tokenizer: tokenizer.json, or vocab.json with
    merges.txt. Pickle weights (pytorch_model.bin) are rejected.

    Examples:

        zoo import hf ./my-gpt2 --name my-gpt2

        zoo import hf ./char-gpt-hf --name char-gpt-roundtrip
    """
    from ..export import import_hf

    result = import_hf(folder, name or folder.resolve().name, check=check)
    label = f"{result.name}@{result.path.name}"
    if as_json:
        print_json({"entry": label, "path": str(result.path), "parameters": result.parameters,
                    "tokenizer": result.tokenizer, "max_logit_difference": result.max_logit_difference,
                    "notes": result.notes})
        return
    _print_notes(result.notes)
    message = f"imported {folder} as {label} ({result.parameters:,} parameters, {result.tokenizer} tokenizer)"
    if result.max_logit_difference is not None:
        message += f"; transformers matches zoo to {result.max_logit_difference:.2g} (largest logit difference)"
    console().print(f"{message}\nnext: zoo generate {result.name} \"Hello\"", soft_wrap=True)
