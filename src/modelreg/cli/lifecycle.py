"""``modelreg stage`` and ``modelreg delete``: a version's lifecycle."""

from __future__ import annotations

import sys
from typing import Annotated, Literal

import typer

from modelreg.cli.output import emit_json, say
from modelreg.cli.params import JsonFlag, RefArgument
from modelreg.cli.session import Session
from modelreg.errors import InvalidInput

__all__ = ["Stage", "delete", "stage"]

# modelreg.types.Stage, spelled again because importing modelreg.types costs --help ~10 ms (its frozen
# slotted dataclasses are built at import). tests/cli/test_lifecycle.py keeps the two identical.
Stage = Literal["none", "staging", "production", "archived"]


def stage(
    ctx: typer.Context,
    *,
    ref: RefArgument,
    new_stage: Annotated[Stage, typer.Argument(metavar="STAGE", help="The stage to move the version to.")],
    json_output: JsonFlag = False,
) -> None:
    """Move a version to a lifecycle stage: none, staging, production or archived."""
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        version = registry.set_stage(ref, new_stage)
    if session.json:
        emit_json(version.to_dict())
    else:
        say(f"moved {version.ref} to {version.stage}")


def delete(
    ctx: typer.Context,
    *,
    ref: RefArgument,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    json_output: JsonFlag = False,
) -> None:
    """Delete a version (soft: its number is never reused, its metadata and files are kept).

    REF is resolved first and the confirmation names the exact version (and digest) that will be deleted.
    """
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        version = registry.get_version(ref)
        if not yes:
            _confirm(f"delete {version.ref} ({version.digest})?")
        deleted = registry.delete_version(version.ref)
    if session.json:
        emit_json(deleted.to_dict())
    else:
        say(f"deleted {deleted.ref} {deleted.digest}")


def _confirm(question: str) -> None:
    if not sys.stdin.isatty():
        raise InvalidInput(f"refusing to {question.rstrip('?')} without confirmation: pass --yes")
    if not typer.confirm(question, default=False, err=True):
        print("nothing deleted", file=sys.stderr)
        raise typer.Exit(1)
