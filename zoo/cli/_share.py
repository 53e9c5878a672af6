"""``zoo push``, ``zoo pull`` and ``zoo rm``: share entries and manage store versions."""

from __future__ import annotations

import logging
import sys

import typer

from zoo_registry import (EntryNotFoundError, Problem, ValidationError, get_registry, resolve_entry, store_entries_dir,
                          store_versions)

from ._app import app
from ._output import console, print_json, print_table


class _LevelFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {record.getMessage()}"


def _setup_logging() -> None:
    # Only zoo's own messages; huggingface_hub prints its warnings through its own handler.
    logger = logging.getLogger("zoo")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_LevelFormatter())
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def _resolve_for_push(name: str):
    # A first-party card and the store version trained from it share a name; push the one with weights.
    entry = resolve_entry(get_registry(), name)
    if entry.has_weights:
        return entry
    return next((hidden for hidden in entry.shadows if hidden.has_weights), entry)


@app.command("push")
def push_command(
    name: str = typer.Argument(..., help="Entry to upload: name, name@version or a path to an entry folder."),
    remote: str = typer.Argument(..., help="Hub repo as namespace/repo, or a folder as file:///path or /path."),
    revision: str = typer.Option(None, "--revision", help="Hub branch to commit to; created from main if missing "
                                 "(default: main)."),
    private: bool = typer.Option(False, "--private", help="Create the Hub repo as private; rejected for an existing "
                                 "public repo."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Upload an entry (card, recipe, config, weights, tokenizer, plots) as one commit and print its id.

    The card and the weights are checked first: the card must be valid Hub metadata with
    library_name zoo, and every safetensors file must match its sha256 in the card. Files on
    the remote that the entry no longer has are deleted in the same commit. The token comes
    from 'hf auth login' or HF_TOKEN.

    Examples:

        zoo push char-gpt my-team/char-gpt

        zoo push char-gpt@v3 my-team/char-gpt --revision experiment --private

        zoo push char-gpt file:///mnt/shared/zoo/char-gpt
    """
    _setup_logging()
    from ..hub import push_entry

    entry = _resolve_for_push(name)
    result = push_entry(entry, remote, revision=revision, private=private)
    if as_json:
        print_json({"entry": result.entry, "remote": result.remote, "revision": result.revision,
                    "commit": result.commit, "url": result.url, "files": result.files})
        return
    where = f"{result.remote} ({result.revision})" if result.revision else result.remote
    out = console()
    out.print(f"pushed {result.entry} to {where}: {len(result.files)} files")
    out.print(f"commit {result.commit}")
    out.print(f"{result.url}\nnext: zoo pull {result.remote}@{result.commit}")


@app.command("pull")
def pull_command(
    remote: str = typer.Argument(..., help="namespace/repo[@revision], file:///path or a folder path."),
    name: str = typer.Option(None, "--as", help="Store name for the entry (default: the repo or folder name)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Download an entry at a pinned revision, verify every file, and add it to the store as a new version.

    Hub files go through the Hugging Face cache; with HF_HUB_OFFLINE=1 the pull uses only the
    cache and lists what is missing. Pickle weights are never loaded: they are skipped with a
    warning, and a repo with no safetensors weights is rejected. The command ends with the
    plugin distributions the entry needs and how to install the missing ones.

    Examples:

        zoo pull my-team/char-gpt

        zoo pull my-team/char-gpt@v1.0 --as char-gpt-v1

        HF_HUB_OFFLINE=1 zoo pull my-team/char-gpt

        zoo pull file:///mnt/shared/zoo/char-gpt
    """
    _setup_logging()
    from ..hub import pull_entry

    result = pull_entry(remote, name=name)
    plugins = [{"distribution": p.distribution, "required": p.required, "installed": p.installed,
                "install": None if p.installed else p.install_command} for p in result.plugins]
    if as_json:
        print_json({"entry": result.label, "path": str(result.path), "remote": result.source, "commit": result.commit,
                    "files": result.files, "ignored": result.ignored, "already_present": result.already_present,
                    "plugins": plugins})
        return
    out = console()
    if result.already_present:
        out.print(f"{result.source}@{result.commit} is already in the store as {result.label} ({result.path}); "
                  f"its {len(result.files)} files match the sha256 recorded then")
    else:
        out.print(f"pulled {result.source}@{result.commit} as {result.label}: {result.path}")
        out.print(f"{len(result.files)} files verified by sha256")
    print_table("Plugins the entry needs", ["distribution", "needed", "installed"],
                [[p["distribution"], p["required"] or "-", p["installed"] or f"no: {p['install']}"] for p in plugins],
                empty="The card names no plugins (zoo.plugins).")
    missing = [p["install"] for p in plugins if not p["installed"]]
    if missing:
        out.print("install the missing plugins before using the entry:\n  " + "\n  ".join(missing))
    out.print(f"next: zoo eval {result.label}")


@app.command("rm")
def rm_command(
    name: str = typer.Argument(..., help="Store entry to remove, or name@version for one version."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Remove without asking for confirmation."),
) -> None:
    """Remove store versions of an entry: one with name@version, or all of them.

    Only trained or pulled versions in the store are removed; cards in ./cards and in plugins
    stay. Version numbers are never reused after a removal.

    Examples:

        zoo rm char-gpt@v2

        zoo rm char-gpt --yes
    """
    from .. import store

    base, at, version = name.partition("@")
    if not base or base.startswith(".") or "/" in base or "\\" in base:
        raise ValidationError([Problem("command line", "entry", f"{name!r} is not a store entry name; pass the name "
                                                                f"that 'zoo list' shows, e.g. char-gpt or char-gpt@v2")])
    versions = store_versions(base)
    if at and version not in versions:
        raise EntryNotFoundError(f"entry {base!r} has no store version {version!r}; versions in "
                                 f"{store_entries_dir() / base}: {', '.join(versions) or 'none'}")
    targets = [version] if at else versions
    if not targets:
        store.remove(base)  # raises the not-found error with the store path
    labels = ", ".join(f"{base}@{v}" for v in targets)
    if not yes and not typer.confirm(f"Remove {labels} from the store ({store_entries_dir() / base})?"):
        raise typer.Abort()
    removed = store.remove(base, version if at else None)
    console().print("removed " + ", ".join(f"{base}@{v}" for v in removed))
