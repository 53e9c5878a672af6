"""``zoo generate``: continue one prompt or a batch of prompts with a language-model entry."""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import typer

from zoo_registry import Problem, ValidationError, ZooError

from ._app import app
from ._output import print_json
from ._train import resolve_with_weights

log = logging.getLogger("zoo")

# Padding only fills the left of shorter prompts and is masked out, so any valid id works.
PAD_TOKEN_ID = 0


def _check_range(problems: list, name: str, value, low, high, text: str) -> None:
    if value is not None and not (low <= value <= high):
        problems.append(Problem("command line", name, f"{value!r} is out of range; {text}"))


def _check_settings(prompts: list[str], max_new_tokens: int, temperature: float, top_k: int | None,
                    top_p: float | None, stop: list[str], stream: bool | None, as_json: bool) -> None:
    problems: list[Problem] = []
    _check_range(problems, "--max-new-tokens", max_new_tokens, 1, 1_000_000, "use a value from 1 to 1000000")
    _check_range(problems, "--temperature", temperature, 0.0, 100.0, "use 0 (greedy) up to 100")
    if top_k is not None and top_k < 1:
        problems.append(Problem("command line", "--top-k", f"{top_k!r} is out of range; use 1 or more"))
    if top_p is not None and not (0.0 < top_p <= 1.0):
        problems.append(Problem("command line", "--top-p", f"{top_p!r} is out of range; use a value in (0, 1]"))
    for text in stop:
        if not text:
            problems.append(Problem("command line", "--stop", "is empty; give the text that ends a continuation"))
    if stream and len(prompts) > 1:
        problems.append(Problem("command line", "--stream", f"prints one continuation as it is generated, but "
                                f"{len(prompts)} prompts were given; drop --stream or pass one prompt"))
    if stream and as_json:
        problems.append(Problem("command line", "--stream", "cannot be combined with --json, which prints once "
                                "generation ends; drop one of them"))
    if problems:
        raise ValidationError(problems)


def _encode_stops(dataset: Any, stop: list[str]) -> list[list[int]]:
    sequences = []
    for text in stop:
        try:
            ids = dataset.encode(text)
        except ZooError as error:
            raise ValidationError([Problem("command line", "--stop", f"{text!r} cannot be encoded: {error}")]) from None
        sequences.append(list(ids))
    return sequences


def _encode_prompts(dataset: Any, prompts: list[str], block_size: int | None) -> list[list[int]]:
    """Return each prompt's token ids.

    An empty prompt starts from a newline (or token 0 where the vocabulary has none), which the
    output leaves out. A prompt longer than the context keeps its last ``block_size`` tokens.
    """
    encoded = []
    for number, prompt in enumerate(prompts, start=1):
        ids = list(dataset.encode(prompt))
        if block_size and len(ids) > block_size:
            label = f"prompt {number}" if len(prompts) > 1 else "the prompt"
            log.warning("%s has %d tokens; keeping its last %d (the model's context)", label, len(ids), block_size)
            ids = ids[-block_size:]
        if not ids:
            ids = [dataset.encode("\n")[0]] if _encodable(dataset, "\n") else [0]
        encoded.append(ids)
    return encoded


def _encodable(dataset: Any, text: str) -> bool:
    try:
        return bool(dataset.encode(text))
    except ZooError:
        return False


def _stop_length(tokens: list[int], stops: list[list[int]]) -> int | None:
    """Return how many of ``tokens`` come before the generation stopped, stop sequence included, or None."""
    for end in range(1, len(tokens) + 1):
        if any(end >= len(s) and tokens[end - len(s):end] == s for s in stops):
            return end
    return None


class _Streamer:
    """Callback for ``generate`` that writes each new token's text as soon as it is complete.

    Byte-level tokenizers can split one character over several tokens, so text that ends
    in an incomplete UTF-8 sequence (decoded as U+FFFD) waits for up to 3 more tokens.
    """

    def __init__(self, dataset: Any, out: TextIO):
        self.dataset = dataset
        self.out = out
        self.pending: list[int] = []

    def __call__(self, tokens) -> None:
        self.pending.append(int(tokens[0]))
        text = self.dataset.decode(self.pending)
        if text.endswith("\ufffd") and len(self.pending) < 4:
            return
        self.out.write(text)
        self.out.flush()
        self.pending.clear()

    def close(self) -> None:
        if self.pending:
            self.out.write(self.dataset.decode(self.pending))
        self.out.write("\n")
        self.out.flush()


@app.command("generate")
def generate_command(
    name: str = typer.Argument(..., help="Text entry with weights."),
    prompts: list[str] = typer.Argument(None, help="Texts to continue, generated together as one batch; "
                                        "none or '' starts from nothing."),
    max_new_tokens: int = typer.Option(200, "--max-new-tokens", "-n", help="Number of tokens to generate per prompt."),
    temperature: float = typer.Option(0.8, "--temperature", "-t", help="Sampling temperature; 0 means greedy."),
    top_k: int = typer.Option(None, "--top-k", help="Sample only from the k most likely tokens."),
    top_p: float = typer.Option(None, "--top-p", help="Sample from the smallest set of tokens whose probability reaches p."),
    seed: int = typer.Option(None, "--seed", help="Seed for sampling, for repeatable output; prompt i (from 0) uses "
                             "seed + i, so each prompt gets the same text alone as in a batch."),
    stop: list[str] = typer.Option(None, "--stop", help="End a continuation once it ends with this text, which is "
                                   "kept in the output; repeat for several."),
    stream: bool = typer.Option(None, "--stream/--no-stream", help="Print tokens as they are generated "
                                "[default: on for one prompt, off for several]."),
    compile_model: bool = typer.Option(False, "--compile", help="Run the model through torch.compile; where that "
                                       "fails, print a notice and run without it."),
    as_json: bool = typer.Option(False, "--json", help="Print the prompts and continuations as JSON."),
) -> None:
    """Continue prompts with a language-model entry.

    Several prompts run as one batch; shorter ones are padded on the left and masked.

    Examples:

        zoo generate char-gpt "ROMEO:" --max-new-tokens 300

        zoo generate char-gpt "" --temperature 0

        zoo generate char-gpt "ROMEO:" "JULIET:" --seed 1 --stop $'\\n\\n'
    """
    prompts = list(prompts or [""])
    stop = list(stop or [])
    _check_settings(prompts, max_new_tokens, temperature, top_k, top_p, stop, stream, as_json)
    if stream is None:
        stream = len(prompts) == 1 and not as_json

    import torch

    from .._compile import compile_forward
    from ..runner import load_entry

    entry = resolve_with_weights(name)
    loaded = load_entry(entry)
    model, dataset = loaded.model, loaded.dataset
    if not hasattr(dataset, "encode") or not hasattr(model, "generate"):
        raise ZooError(f"entry {entry.label} ({entry.zoo.get('task')}) does not generate text; "
                       f"use 'zoo eval {entry.name}' instead")
    stops = _encode_stops(dataset, stop)
    encoded = _encode_prompts(dataset, prompts, loaded.block_size)
    if compile_model:
        # Recurrent models generate through another method than forward; they name it.
        compile_forward(model, "zoo generate --compile", getattr(model, "compile_method", "forward"))

    width = max(len(ids) for ids in encoded)
    idx = torch.tensor([[PAD_TOKEN_ID] * (width - len(ids)) + ids for ids in encoded], dtype=torch.long)
    mask = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in encoded], dtype=torch.long)
    generator = None
    if seed is not None:
        generator = [torch.Generator().manual_seed(seed + row) for row in range(len(prompts))]

    if compile_model:
        # Compile the prompt and the one-token step now, so that a failure notice comes before
        # any output instead of in the middle of streamed text.
        model.generate(idx, 2, temperature=0, attention_mask=mask, pad_token_id=PAD_TOKEN_ID)

    streamer = None
    if stream:
        sys.stdout.write(prompts[0])
        sys.stdout.flush()
        streamer = _Streamer(dataset, sys.stdout)
    out = model.generate(idx, max_new_tokens, temperature=temperature, top_k=top_k, top_p=top_p,
                         generator=generator, attention_mask=mask, stop=stops or None,
                         pad_token_id=PAD_TOKEN_ID, on_step=streamer)
    if streamer is not None:
        streamer.close()
        return

    results = []
    for row, prompt in enumerate(prompts):
        new = out[row, width:].tolist()
        length = _stop_length(new, stops) if stops else None
        new = new[:length] if length is not None else new
        results.append({"prompt": prompt, "text": dataset.decode(new), "new_tokens": len(new),
                        "stopped": length is not None})
    if as_json:
        print_json({"entry": entry.label, "outputs": results})
        return
    for row, result in enumerate(results):
        if len(results) > 1:
            sys.stdout.write(("\n" if row else "") + f"==> prompt {row + 1} <==\n")
        sys.stdout.write(result["prompt"] + result["text"] + "\n")
