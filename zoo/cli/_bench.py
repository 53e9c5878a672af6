"""``zoo bench``: latency, throughput, generation speed and memory of an entry's model in every variant."""

from __future__ import annotations

import shlex

import typer

from zoo_registry import Problem, ValidationError

from ._app import app
from ._output import console, error_console, print_json, print_table
from ._train import resolve_with_weights

_VARIANTS = ("eager", "bf16", "compile", "int8")


def _check(problems: list[Problem], name: str, value: int | None, low: int, high: int) -> None:
    if value is not None and not low <= value <= high:
        problems.append(Problem("command line", name, f"{value!r} is out of range; use a value from {low} to {high}"))


def _variants(text: str, problems: list[Problem]) -> tuple[str, ...]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in _VARIANTS]
    if unknown or not names:
        problems.append(Problem("command line", "--variants", f"{text!r} names {', '.join(map(repr, unknown)) or 'no variant'}; "
                                f"use a comma-separated list of {', '.join(_VARIANTS)}"))
    return tuple(dict.fromkeys(names))


@app.command("bench")
def bench_command(
    name: str = typer.Argument(..., help="Entry with weights: name, name@version or a path to an entry folder."),
    device: str = typer.Option(None, "--device", help="Device to run on: cpu, cuda, cuda:1 or mps "
                               "(default: cuda when available, else cpu)."),
    variants: str = typer.Option(",".join(_VARIANTS), "--variants", help="Comma-separated variants to compare: "
                                 "eager (fp32), bf16, compile (torch.compile) and int8 (dynamic int8 through "
                                 "zoo-compress, CPU only)."),
    batch_size: int = typer.Option(8, "--batch-size", "-b", help="The larger batch, beside batch 1."),
    repeats: int = typer.Option(10, "--repeats", help="Timed runs of every measurement; the table shows their "
                                "median and half their interquartile range."),
    warmup: int = typer.Option(2, "--warmup", help="Untimed runs before the timed ones (they also compile)."),
    prompt_tokens: int = typer.Option(None, "--prompt-tokens", help="Language models: prompt length in tokens "
                                      "(default: half the context)."),
    new_tokens: int = typer.Option(None, "--new-tokens", help="Language models: tokens to decode (default: the "
                                   "rest of the context)."),
    threads: int = typer.Option(None, "--threads", help="CPU threads for PyTorch (default: PyTorch's choice)."),
    write_card: bool = typer.Option(False, "--write-card", help="Write the table into the entry's card "
                                    "(README.md) and the medians under zoo.bench."),
    as_json: bool = typer.Option(False, "--json", help="Print every measurement as JSON."),
) -> None:
    """Compare the speed and memory of an entry's model as eager fp32, bf16, torch.compile and int8.

    Measures forward latency at batch 1 and --batch-size, throughput, and for
    language models prefill and decode tokens/s; then peak memory and weight
    size. Variants run round by round on the same inputs, taken from the
    entry's own data. A variant that cannot run here stays in the table as
    unavailable, with the reason.

    Examples:

        zoo bench char-gpt

        zoo bench char-gpt --variants eager,int8 --repeats 20 --json

        zoo bench digits-cnn --device cuda --batch-size 256 --write-card
    """
    problems: list[Problem] = []
    chosen = _variants(variants, problems)
    _check(problems, "--batch-size", batch_size, 1, 65536)
    _check(problems, "--repeats", repeats, 1, 10000)
    _check(problems, "--warmup", warmup, 0, 1000)
    _check(problems, "--prompt-tokens", prompt_tokens, 1, 1_000_000)
    _check(problems, "--new-tokens", new_tokens, 1, 1_000_000)
    _check(problems, "--threads", threads, 1, 4096)
    if problems:
        raise ValidationError(problems)

    import torch

    from ..bench import BenchSettings, bench_entry, conditions, table, unavailable
    from ..bench import as_json as result_json
    from ..bench import write_card as write_bench_card

    entry = resolve_with_weights(name)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    settings = BenchSettings(device=device, batch_size=batch_size, repeats=repeats, warmup=warmup, variants=chosen,
                             prompt_tokens=prompt_tokens, new_tokens=new_tokens, threads=threads)
    result = bench_entry(entry, settings)
    if write_card:
        command = ["zoo", "bench", name, "--device", device, "--variants", ",".join(chosen), "--batch-size",
                   str(batch_size), "--repeats", str(repeats), "--warmup", str(warmup)]
        for option, value in (("--prompt-tokens", prompt_tokens), ("--new-tokens", new_tokens),
                              ("--threads", threads)):
            if value is not None:
                command += [option, str(value)]
        write_bench_card(entry, result, shlex.join(command))
    if as_json:
        print_json(result_json(result))
        return
    for notice in result.notices:
        error_console().print(f"notice: {notice}", soft_wrap=True)
    header, rows = table(result)
    console().print(conditions(result), soft_wrap=True)
    print_table(None, header, rows)
    noticed = {notice.partition(":")[0] for notice in result.notices}
    for line in unavailable(result):
        if line.partition(":")[0] not in noticed:
            console().print(f"unavailable: {line}", soft_wrap=True)
    if write_card:
        console().print(f"wrote the table into {entry.path / 'README.md'}")
