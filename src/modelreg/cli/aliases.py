"""``modelreg alias set | rm | history``: mutable pointers such as @champion, and where they pointed."""

from __future__ import annotations

from typing import Annotated

import typer

from modelreg.cli.output import emit_json, print_alias_history, say
from modelreg.cli.params import JsonFlag, NameArgument
from modelreg.cli.session import Session

__all__ = ["app"]

app = typer.Typer(
    help="Point aliases (e.g. @champion) at versions; every move is recorded.", no_args_is_help=True
)

AliasArgument = Annotated[str, typer.Argument(metavar="ALIAS", help="Alias, e.g. champion (without '@').")]


@app.command("set")
def set_alias(
    ctx: typer.Context,
    *,
    name: NameArgument,
    alias: AliasArgument,
    version: Annotated[
        int, typer.Argument(min=1, metavar="VERSION", help="Version number the alias should point at.")
    ],
    json_output: JsonFlag = False,
) -> None:
    """Point NAME@ALIAS at VERSION (atomically; creates the alias if needed)."""
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        change = registry.set_alias(name, alias, version)
    if session.json:
        emit_json(change.to_dict())
    else:
        say(f"{change.name}@{change.alias} -> {change.name}/{change.version}")


@app.command("rm")
def remove_alias(
    ctx: typer.Context, *, name: NameArgument, alias: AliasArgument, json_output: JsonFlag = False
) -> None:
    """Remove NAME@ALIAS; its history is kept. --json prints the model afterwards."""
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        registry.delete_alias(name, alias)
        model = registry.get_model(name) if session.json else None
    if model is not None:
        emit_json(model.to_dict())
    else:
        say(f"removed {name}@{alias}")


@app.command("history")
def alias_history(
    ctx: typer.Context, *, name: NameArgument, alias: AliasArgument, json_output: JsonFlag = False
) -> None:
    """Every version NAME@ALIAS has pointed at, when, and who moved it."""
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        changes = registry.alias_history(name, alias)
    if session.json:
        emit_json([change.to_dict() for change in changes])
    else:
        print_alias_history(changes)
