"""``zoo list`` and ``zoo plugins``: the registry as tables, without importing torch."""

from __future__ import annotations

import typer

from zoo_registry import ComponentConflictError, Entry, UnknownComponentError, find_entries, get_registry

from ._app import app
from ._output import console, format_count, print_json, print_table


def _architecture_status(entry: Entry) -> str:
    architecture = entry.zoo.get("architecture")
    if not architecture:
        return "-"
    try:
        get_registry().resolve("architecture", architecture)
    except UnknownComponentError:
        return f"{architecture} (not installed)"
    except ComponentConflictError:
        return f"{architecture} (conflict)"
    return architecture


def _weights_source(entry: Entry) -> Entry | None:
    """Return the entry whose weights commands like ``zoo eval`` use: this one or a hidden trained one."""
    if entry.has_weights:
        return entry
    return next((hidden for hidden in entry.shadows if hidden.has_weights), None)


def _weights_label(entry: Entry) -> str:
    trained = _weights_source(entry)
    if trained is None:
        return "no"
    return "yes" if trained is entry else f"yes ({trained.source} {trained.version or ''})".replace(" )", ")")


def _parameters(entry: Entry):
    trained = _weights_source(entry)
    return entry.zoo.get("parameters") or (trained.zoo.get("parameters") if trained else None)


def _entry_row(entry: Entry) -> dict:
    zoo = entry.zoo
    trained = _weights_source(entry)
    return {
        "name": entry.label,
        "architecture": zoo.get("architecture"),
        "task": zoo.get("task"),
        "parameters": _parameters(entry),
        "weights": trained is not None,
        "weights_path": str(trained.path) if trained else None,
        "source": entry.source,
        "path": str(entry.path),
        "card_error": entry.card_error,
    }


def _matches(entry: Entry, task: str | None, architecture: str | None, text: str | None) -> bool:
    zoo = entry.zoo
    if task and zoo.get("task") != task:
        return False
    if architecture and zoo.get("architecture") != architecture:
        return False
    if text:
        haystack = " ".join(str(v) for v in (entry.name, zoo.get("architecture"), zoo.get("task"),
                                               entry.card.text if entry.card else "")).lower()
        return text.lower() in haystack
    return True


@app.command("list")
def list_command(
    text: str = typer.Argument(None, help="Show only entries whose name, architecture, task or card mention this text."),
    task: str = typer.Option(None, "--task", help="Show only entries of this task, e.g. text-generation."),
    architecture: str = typer.Option(None, "--architecture", "-a", help="Show only entries of this architecture."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """List the entries of the zoo and every installed component.

    Examples:

        zoo list

        zoo list --task text-generation

        zoo list gpt --json
    """
    registry = get_registry()
    entries = [e for e in find_entries(registry) if _matches(e, task, architecture, text)]
    filtered = bool(text or task or architecture)
    components = [] if text else [
        {"kind": r.spec.kind, "name": r.spec.name, "task": r.spec.task, "plugin": r.plugin.name,
         "distribution": r.plugin.distribution, "summary": r.spec.summary}
        for r in registry.components()
        if (not task or r.spec.task == task)
        and (not architecture or (r.spec.kind == "architecture" and r.spec.name == architecture))
    ]
    broken = [p for p in registry.plugins if not p.ok]

    if as_json:
        print_json({"entries": [_entry_row(e) for e in entries], "components": components,
                    "broken_plugins": [p.name for p in broken]})
        return

    print_table(
        "Entries", ["name", "architecture", "task", "params", "weights", "source"],
        [[e.label, _architecture_status(e), e.zoo.get("task", "-"), format_count(_parameters(e)),
          _weights_label(e), e.source if not e.card_error else f"{e.source} (invalid card)"]
         for e in entries],
        empty="No entries match." if filtered else "No entries found.",
    )
    if components:
        console().print()
        print_table("Components", ["kind", "name", "task", "plugin", "summary"],
                    [[c["kind"], c["name"], c["task"], c["plugin"], c["summary"]] for c in components])
    if broken:
        console().print(f"\n{len(broken)} plugin(s) failed to load: {', '.join(p.name for p in broken)}. "
                        "Run 'zoo plugins' for the errors.")


@app.command("plugins")
def plugins_command(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """List installed plugins, what each provides, and the error of any that failed to load.

    Examples:

        zoo plugins

        ZOO_DISABLE_PLUGIN_AUTOLOAD=1 ZOO_PLUGINS=zoo-text zoo plugins
    """
    registry = get_registry()
    conflicts = registry.conflicts()
    if as_json:
        print_json({
            "plugins": [
                {"name": p.name, "distribution": p.distribution, "version": p.version, "ok": p.ok,
                 "error": p.error, "components": [f"{c.kind}:{c.name}" for c in p.components],
                 "entry_dirs": [str(d) for d in p.entry_dirs]}
                for p in registry.plugins
            ],
            "conflicts": [
                {"kind": kind, "name": name, "distributions": [r.plugin.distribution for r in found]}
                for (kind, name), found in conflicts.items()
            ],
        })
        return
    rows = []
    for p in registry.plugins:
        if p.ok:
            provides = ", ".join(f"{c.kind} {c.name}" for c in p.components)
            if p.entry_dirs:
                provides = ", ".join(filter(None, [provides, f"{len(p.entry_dirs)} entry folder(s)"]))
            rows.append([p.name, p.distribution, p.version, "ok", provides or "-"])
        else:
            rows.append([p.name, p.distribution, p.version, "failed", p.error])
    print_table("Plugins", ["plugin", "distribution", "version", "status", "provides / error"], rows,
                empty="No plugins found in the 'zoo' entry-point group.")
    for (kind, name), found in conflicts.items():
        owners = " and ".join(f"{r.plugin.distribution} ('{r.qualified_name}')" for r in found)
        console().print(f"conflict: {kind} {name!r} is declared by {owners}; use a qualified name.")
