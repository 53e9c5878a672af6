"""``zoo compress``."""

from __future__ import annotations

import logging
import sys

import typer

from ._app import app
from ._output import console, print_json, print_table

_HELP_STEPS = "Steps as --with NAME followed by its key=value options, and recipe overrides as section.option=value."


@app.command("compress", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
def compress_command(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Entry to compress (with weights), or a compressed entry's card to build."),
    arguments: list[str] = typer.Argument(None, help=_HELP_STEPS, metavar="STEPS"),
    new_name: str = typer.Option(None, "--name", help="Name of the new entry (default: the entry's name and the "
                                 "compressors, e.g. char-gpt-int8-dynamic)."),
    as_json: bool = typer.Option(False, "--json", help="Print the comparison as JSON."),
) -> None:
    """Compress an entry into a new entry and compare it with its base.

    Each --with adds a step, in order; a card whose recipe lists compress
    steps and a base is built without --with. The new entry goes into the
    store with its base and steps in the card, beside a table of file size,
    weights, quality, CPU latency, throughput and generation speed.

    Compressors of the zoo-compress plugin: int8-dynamic, prune, distill,
    low-rank, half; plugins/zoo-compress/README.md lists their options.

    Examples:

        zoo compress char-gpt --with int8-dynamic

        zoo compress char-gpt --with prune sparsity=0.5 finetune_steps=200 --with int8-dynamic --name char-gpt-small8

        zoo compress char-gpt --with distill model.n_layer=2 model.d_model=64 train.max_steps=500

        zoo compress char-gpt-int8
    """
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    from ..compression import compress, parse_arguments, plan_compression, table_rows

    steps, overrides = parse_arguments([*(arguments or []), *ctx.args])
    plan = plan_compression(name, steps, overrides, new_name)
    result = compress(plan)
    if as_json:
        print_json({"entry": result.name, "path": str(result.path), "base": result.base_label,
                    "comparison": {row.name: row.as_dict() for row in result.rows}})
        return
    print_table(f"{result.name} ({result.path}) beside {result.base_label}", ["", result.base_label, result.name,
                                                                               "change"], table_rows(result.rows))
    console().print(f"next: zoo eval {result.name} --check")
