"""``modelreg model create | rename | delete``: a model's own lifecycle (its versions': ``push``, ``delete``).

A deleted model keeps its history and its version numbers: creating (or pushing) the name again revives it,
and its next version follows the highest it ever had.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from modelreg.cli.inputs import parse_pairs
from modelreg.cli.output import emit_json, say
from modelreg.cli.params import JsonFlag, NameArgument
from modelreg.cli.session import Session
from modelreg.errors import InvalidInput

__all__ = ["app"]

app = typer.Typer(help="A model's lifecycle: create, rename, delete.", no_args_is_help=True)


@app.command("create")
def create(
    ctx: typer.Context,
    *,
    name: NameArgument,
    description: Annotated[str, typer.Option(metavar="TEXT", help="The model's description.")] = "",
    tag: Annotated[
        list[str] | None, typer.Option(metavar="KEY=VALUE", help="A model tag (repeatable).")
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Create model NAME without versions (a push creates it too). A deleted NAME is revived."""
    session = Session.of(ctx, json=json_output)
    tags = parse_pairs(tag, option="--tag")  # before connecting: bad input creates nothing
    with session.connect() as registry:
        model = registry.create_model(name, description=description, tags=tags)
    if session.json:
        emit_json(model.to_dict())
    else:
        say(f"created {model.name}")


@app.command("rename")
def rename(
    ctx: typer.Context,
    *,
    name: NameArgument,
    new_name: Annotated[str, typer.Argument(metavar="NEW_NAME", help="The model's new name.")],
    json_output: JsonFlag = False,
) -> None:
    """Rename model NAME to NEW_NAME; its aliases, versions and history move with it. Needs an admin."""
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        model = registry.rename_model(name, new_name)
    if session.json:
        emit_json(model.to_dict())
    else:
        say(f"renamed {name} to {model.name}")


@app.command("delete")
def delete(
    ctx: typer.Context,
    *,
    name: NameArgument,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    json_output: JsonFlag = False,
) -> None:
    """Delete model NAME and every version of it (soft: numbers, files and history are kept).

    NAME is looked up first and the confirmation names its latest version. Refused while a version
    is under legal hold or a deployment is recorded as serving the model. Needs an admin.
    """
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        model = registry.get_model(name)
        if not yes:
            latest = "no live versions" if model.latest_version is None else f"latest {model.latest_version}"
            _confirm(f"delete model {model.name} ({latest}) and every version of it?")
        registry.delete_model(model.name)
    if session.json:
        emit_json({"name": model.name, "deleted": True})
    else:
        say(f"deleted model {model.name}")


def _confirm(question: str) -> None:
    if not sys.stdin.isatty():
        raise InvalidInput(f"refusing to {question.rstrip('?')} without confirmation: pass --yes")
    if not typer.confirm(question, default=False, err=True):
        print("nothing deleted", file=sys.stderr)
        raise typer.Exit(1)
