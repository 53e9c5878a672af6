"""The typer application and the one error boundary of the CLI."""

from __future__ import annotations

import importlib
import os
import sys
import traceback

import typer
from rich.markup import escape

from zoo_registry import ZooError

from .. import __version__
from ._output import error_console

app = typer.Typer(
    name="zoo",
    help="List, train, evaluate, compress and share PyTorch models.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)

DEBUG_ENV = "ZOO_DEBUG"


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"zoo {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_show_version, is_eager=True, help="Print the version and exit."),
    debug: bool = typer.Option(False, "--debug", help=f"Show tracebacks for user errors too (or set {DEBUG_ENV}=1)."),
) -> None:
    if debug:
        os.environ[DEBUG_ENV] = "1"


def _usage_error_types() -> tuple[type[Exception], ...]:
    """Return click's ``ClickException`` classes, including those of the click copy that typer 0.29 bundles."""
    types = []
    for module in ("click.exceptions", "typer._click.exceptions"):
        try:
            types.append(importlib.import_module(module).ClickException)
        except (ImportError, AttributeError):
            continue
    return tuple(types)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; a ``ZooError`` becomes one message on stderr and exit status 1."""
    try:
        # Outside standalone mode click returns the code of a typer.Exit instead of raising it;
        # typer turns Ctrl-C into Exit(130) that way.
        code = app(args=argv, prog_name="zoo", standalone_mode=False)
    except ZooError as error:
        if os.environ.get(DEBUG_ENV) == "1":
            traceback.print_exc()
        error_console().print(f"[bold red]error:[/] {escape(str(error))}", soft_wrap=True)
        return 1
    except typer.Exit as done:
        return done.exit_code
    except typer.Abort:
        error_console().print("aborted")
        return 1
    except KeyboardInterrupt:
        error_console().print("interrupted")
        return 130
    except Exception as error:
        if isinstance(error, _usage_error_types()):  # a bad option, a missing argument, a wrong type
            error.show()
            return error.exit_code
        raise
    if isinstance(code, int) and code:
        if code == 130:
            error_console().print("interrupted")
        return code
    return 0


def run() -> None:
    sys.exit(main())
