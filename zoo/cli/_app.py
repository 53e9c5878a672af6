"""The typer application and the one error boundary of the CLI."""

from __future__ import annotations

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


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; a ``ZooError`` becomes one message on stderr and exit status 1."""
    try:
        app(args=argv, prog_name="zoo", standalone_mode=False)
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
    except Exception as click_error:  # click's usage errors arrive here in non-standalone mode
        import click

        if isinstance(click_error, click.ClickException):
            click_error.show()
            return click_error.exit_code
        raise
    return 0


def run() -> None:
    sys.exit(main())
