"""``zoo generate``: continue one prompt or a batch of prompts with a language-model entry."""

from __future__ import annotations

import logging
import os
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


# torch.Generator.manual_seed takes seeds up to 2**64 - 1.
MAX_SEED = 2**64 - 1


def _check_settings(prompts: list[str], max_new_tokens: int, temperature: float, top_k: int | None,
                    top_p: float | None, seed: int | None, stop: list[str], stream: bool | None,
                    as_json: bool) -> None:
    problems: list[Problem] = []
    _check_range(problems, "--max-new-tokens", max_new_tokens, 1, 1_000_000, "use a value from 1 to 1000000")
    _check_range(problems, "--temperature", temperature, 0.0, 100.0, "use 0 (greedy) up to 100")
    if top_k is not None and top_k < 1:
        problems.append(Problem("command line", "--top-k", f"{top_k!r} is out of range; use 1 or more"))
    if top_p is not None and not (0.0 < top_p <= 1.0):
        problems.append(Problem("command line", "--top-p", f"{top_p!r} is out of range; use a value in (0, 1]"))
    if seed is not None and not (0 <= seed <= MAX_SEED - (len(prompts) - 1)):
        problems.append(Problem("command line", "--seed", f"{seed!r} is out of range; use 0 to "
                                f"{MAX_SEED - (len(prompts) - 1)} (prompt i uses seed + i)"))
    for number, text in enumerate(stop, start=1):
        if not text:
            problems.append(Problem("command line", _stop_field(number, stop),
                                    "is empty; give the text that ends a continuation"))
    if stream and len(prompts) > 1:
        problems.append(Problem("command line", "--stream", f"prints one continuation as it is generated, but "
                                f"{len(prompts)} prompts were given; drop --stream or pass one prompt"))
    if stream and as_json:
        problems.append(Problem("command line", "--stream", "cannot be combined with --json, which prints once "
                                "generation ends; drop one of them"))
    if problems:
        raise ValidationError(problems)


def _stop_field(number: int, stop: list[str]) -> str:
    return f"--stop (number {number})" if len(stop) > 1 else "--stop"


def _prompt_field(number: int, prompts: list[str]) -> str:
    return f"prompt {number}" if len(prompts) > 1 else "prompt"


def _encode_all(dataset: Any, texts: list[str], field, problems: list[Problem]) -> list[list[int]]:
    """Return the token ids of each text, adding a problem for every text that the vocabulary cannot encode."""
    encoded = []
    for number, text in enumerate(texts, start=1):
        try:
            encoded.append(list(dataset.encode(text)))
        except ZooError as error:
            problems.append(Problem("command line", field(number, texts), f"{text!r} cannot be encoded: {error}"))
    return encoded


def _encode_prompts(dataset: Any, prompts: list[str], stop: list[str],
                    context_limit: int | None) -> tuple[list[list[int]], list[list[int]]]:
    """Return each prompt's and each stop text's token ids, or raise one error naming every text that cannot be encoded.

    An empty prompt starts from a newline (or token 0 where the vocabulary has none), which the
    output leaves out. A prompt longer than the model's context keeps its last ``context_limit`` tokens.
    """
    problems: list[Problem] = []
    prompt_ids = _encode_all(dataset, prompts, _prompt_field, problems)
    stops = _encode_all(dataset, stop, _stop_field, problems)
    if problems:
        raise ValidationError(problems)
    encoded = []
    for number, ids in enumerate(prompt_ids, start=1):
        if context_limit and len(ids) > context_limit:
            label = _prompt_field(number, prompts) if len(prompts) > 1 else "the prompt"
            log.warning("warning: %s has %d tokens; keeping its last %d (the model's context)", label, len(ids),
                        context_limit)
            ids = ids[-context_limit:]
        if not ids:
            ids = [dataset.encode("\n")[0]] if _encodable(dataset, "\n") else [0]
        encoded.append(ids)
    return encoded, stops


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


class _ReaderClosed(Exception):
    """Raised from the streaming callback when the program reading the output has exited."""


class _Streamer:
    """Callback for ``generate`` that writes each new token's text as soon as it is complete.

    The prompt is written with the first token, so an error found when generation starts is
    not glued to it. Byte-level tokenizers can split one character over several tokens, so
    text that ends in an incomplete UTF-8 sequence (decoded as U+FFFD) waits for up to 3 more tokens.
    """

    def __init__(self, dataset: Any, prompt: str, out: TextIO):
        self.dataset = dataset
        self.out = out
        self.unwritten = prompt
        self.pending: list[int] = []

    def _write(self, text: str) -> None:
        try:
            self.out.write(self.unwritten + text)
            self.out.flush()
        except BrokenPipeError:
            raise _ReaderClosed() from None
        self.unwritten = ""

    def __call__(self, tokens) -> None:
        self.pending.append(int(tokens[0]))
        text = self.dataset.decode(self.pending)
        if text.endswith("\ufffd") and len(self.pending) < 4:
            return
        self.pending.clear()
        self._write(text)

    def close(self) -> None:
        self._write((self.dataset.decode(self.pending) if self.pending else "") + "\n")


@app.command("generate")
def generate_command(
    name: str = typer.Argument(..., help="Text entry with weights: name, name@version or folder."),
    prompts: list[str] = typer.Argument(None, help="Texts to continue, generated together as one batch; "
                                        "none or '' starts from nothing. Put -- before prompts that start "
                                        "with a dash."),
    max_new_tokens: int = typer.Option(200, "--max-new-tokens", "-n", help="Number of tokens to generate per prompt "
                                       "(1 to 1000000)."),
    temperature: float = typer.Option(0.8, "--temperature", "-t", help="Sampling temperature (0 to 100); 0 means "
                                      "greedy."),
    top_k: int = typer.Option(None, "--top-k", help="Sample only from the k most likely tokens (1 to the vocabulary "
                              "size)."),
    top_p: float = typer.Option(None, "--top-p", help="Sample from the smallest set of tokens whose probability reaches p."),
    seed: int = typer.Option(None, "--seed", help="Seed for sampling, for repeatable output. The prompt at position i "
                             "(from 0) uses seed + i, so it gets the same text as when it runs alone with --seed "
                             "set to seed + i."),
    stop: list[str] = typer.Option(None, "--stop", help="End a continuation once it ends with this text, which is "
                                   "kept in the output; repeat for several."),
    stream: bool = typer.Option(None, "--stream/--no-stream", help="Print tokens as they are generated "
                                "(default: on for one prompt, off for several)."),
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
    _check_settings(prompts, max_new_tokens, temperature, top_k, top_p, seed, stop, stream, as_json)
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
                       f"use 'zoo predict {entry.name}' or 'zoo eval {entry.name}' instead")
    vocab_size = getattr(model, "vocab_size", None)
    if top_k is not None and vocab_size is not None and top_k > vocab_size:
        raise ValidationError([Problem("command line", "--top-k", f"{top_k!r} is out of range; {entry.label} has a "
                                       f"vocabulary of {vocab_size} tokens, so use 1 to {vocab_size}")])
    encoded, stops = _encode_prompts(dataset, prompts, stop, getattr(model, "context_limit", loaded.block_size))
    if compile_model:
        typer.echo("compiling the model with torch.compile; the first tokens wait for it", err=True)
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

    streamer = _Streamer(dataset, prompts[0], sys.stdout) if stream else None
    try:
        out = model.generate(idx, max_new_tokens, temperature=temperature, top_k=top_k, top_p=top_p,
                             generator=generator, attention_mask=mask, stop=stops or None,
                             pad_token_id=PAD_TOKEN_ID, on_step=streamer)
        if streamer is not None:
            streamer.close()
            return
    except _ReaderClosed:
        # The reader (such as `head`) has all it wanted: stop generating, as `yes | head` does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
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
