"""``modelreg hold set | rm | list`` and ``modelreg purge``: legal holds, and purging one version's files.

A held version can be neither purged nor deleted. A purge keeps the version's metadata, lineage and
history (``show`` marks it purged) and makes pulls fail with VERSION_PURGED; ``modelreg gc --apply`` then
reclaims the chunks no other version shares.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from modelreg.cli.output import emit_json, say
from modelreg.cli.params import JsonFlag, RefArgument
from modelreg.cli.session import Session
from modelreg.errors import InvalidInput

__all__ = ["app", "purge"]

app = typer.Typer(
    help="Legal holds: a held version can be neither purged nor deleted. set, rm, list.",
    no_args_is_help=True,
)


@app.command("set")
def set_hold(
    ctx: typer.Context,
    *,
    ref: RefArgument,
    reason: Annotated[
        str, typer.Option("--reason", metavar="TEXT", help="Why: a case number, a ticket, a sentence.")
    ] = "",
    json_output: JsonFlag = False,
) -> None:
    """Put the version REF resolves to under legal hold (again: replace the reason). Needs an admin."""
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        hold = registry.set_hold(ref, reason=reason)
    if session.json:
        emit_json(hold.to_dict())
    else:
        say(f"held {hold.name}/{hold.version}" + (f": {hold.reason}" if hold.reason else ""))


@app.command("rm")
def remove_hold(ctx: typer.Context, *, ref: RefArgument, json_output: JsonFlag = False) -> None:
    """Lift the legal hold of the version REF resolves to. Needs an admin."""
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        version = registry.get_version(ref)
        registry.remove_hold(version.ref)
    if session.json:
        emit_json({"name": version.name, "version": version.version, "held": False})
    else:
        say(f"released {version.ref}")


@app.command("list")
def list_holds(
    ctx: typer.Context,
    *,
    name: Annotated[str | None, typer.Argument(metavar="[NAME]", help="Only this model's holds.")] = None,
    json_output: JsonFlag = False,
) -> None:
    """List the legal holds (of every model you may read, or of NAME)."""
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        holds = registry.list_holds(name)
    if session.json:
        emit_json([hold.to_dict() for hold in holds])
        return
    if not holds:
        print("no legal holds", file=sys.stderr)
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for header in ("VERSION", "SINCE", "BY", "REASON"):
        table.add_column(header, overflow="fold")
    for hold in holds:
        since = hold.created_at.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
        cells = (f"{hold.name}/{hold.version}", since, hold.created_by, hold.reason)
        table.add_row(*(Text(cell) for cell in cells))
    Console(highlight=False).print(table)


def purge(
    ctx: typer.Context,
    *,
    ref: RefArgument,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    json_output: JsonFlag = False,
) -> None:
    """Purge a version's files for good; its metadata, lineage and history stay (marked purged).

    Refused (VERSION_PROTECTED) for a version that holds an alias, is in production or is under legal
    hold. Pulls of it then fail with VERSION_PURGED; 'modelreg gc --apply' reclaims the chunks no other
    version shares. REF is resolved first and the confirmation names the exact version. Needs an admin.
    """
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        version = registry.get_version(ref)
        if not yes:
            _confirm(f"purge the files of {version.ref} ({version.digest})?")
        purged = registry.purge_version(version.ref)
    if session.json:
        emit_json(purged.to_dict())
    else:
        say(f"purged {purged.ref} {purged.digest}; run 'modelreg gc --apply' to reclaim its unshared chunks")


def _confirm(question: str) -> None:
    if not sys.stdin.isatty():
        raise InvalidInput(f"refusing to {question.rstrip('?')} without confirmation: pass --yes")
    if not typer.confirm(question, default=False, err=True):
        print("nothing purged", file=sys.stderr)
        raise typer.Exit(1)
