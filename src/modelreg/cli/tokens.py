"""``modelreg token create | list | revoke``: API tokens for the HTTP server.

They work on the registry the global options name, through the SDK like every other command: on a local
directory or database no server is needed (the local user acts as admin); on an ``http(s)://`` registry the
caller's own token must be an admin's.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from modelreg.cli.inputs import duration_or_none
from modelreg.cli.output import emit_json, say
from modelreg.cli.params import JsonFlag
from modelreg.cli.session import Session
from modelreg.errors import InvalidInput

if TYPE_CHECKING:
    from modelreg.types import Token

__all__ = ["app", "parse_expiry"]

app = typer.Typer(
    help="API tokens for the HTTP server: create (the secret is shown once), list, revoke.",
    no_args_is_help=True,
)

Role = Literal["viewer", "contributor", "approver", "admin", "none"]


def parse_expiry(text: str, *, now: datetime) -> datetime:
    """``30d``, ``12h``, ``90m``, ``2w`` from ``now``, or an ISO-8601 time with a time zone."""
    duration = duration_or_none(text)
    if duration is not None:
        return now + duration
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InvalidInput(
            f"invalid expiry {text[:80]!r}: use a duration such as 30d, 12h, 90m or 2w, or an ISO-8601 "
            "time with a time zone (2030-01-31T00:00:00+00:00)"
        )
    return moment


@app.command("create")
def create_token(
    ctx: typer.Context,
    *,
    name: Annotated[str, typer.Option("--name", help="Token name, e.g. ci (recorded as token:NAME).")],
    role: Annotated[
        Role, typer.Option("--role", help="What the token may do; none: only its (or its user's) bindings.")
    ],
    expires: Annotated[
        str | None,
        typer.Option(
            "--expires", metavar="WHEN", help="30d, 12h, 90m, 2w or an ISO-8601 time. Default: never."
        ),
    ] = None,
    user: Annotated[
        str | None,
        typer.Option("--user", metavar="NAME", help="Act as this user (audited as it), with its bindings."),
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Create an API token and print its secret, the only time it is shown (stdout: the secret alone)."""
    session = Session.of(ctx, json=json_output)
    expires_at = None if expires is None else parse_expiry(expires, now=datetime.now(UTC))
    with session.connect() as registry:
        token = registry.create_token(name, role=role, expires_at=expires_at, user=user)
    if session.json:
        emit_json(token.to_dict())
        return
    until = "never expires" if token.expires_at is None else f"expires {_when(token.expires_at)}"
    print(f"created token {token.name} ({token.role}, {until}); store the secret now:", file=sys.stderr)
    say(token.secret or "")


@app.command("list")
def list_tokens(ctx: typer.Context, *, json_output: JsonFlag = False) -> None:
    """List every token (never the secrets), revoked and expired ones included."""
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        found = registry.list_tokens()
    if session.json:
        emit_json([token.to_dict() for token in found])
        return
    if not found:
        print("no tokens: the server allows anonymous access on loopback only", file=sys.stderr)
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for header in ("NAME", "ROLE", "STATUS", "CREATED", "BY", "EXPIRES"):
        table.add_column(header, overflow="fold")
    now = datetime.now(UTC)
    for token in found:
        expires = "never" if token.expires_at is None else _when(token.expires_at)
        cells = (token.name, token.role, _status(token, now), _when(token.created_at), token.created_by)
        table.add_row(*(Text(cell) for cell in (*cells, expires)))
    Console(highlight=False).print(table)


@app.command("revoke")
def revoke_token(
    ctx: typer.Context,
    *,
    name: Annotated[str, typer.Argument(metavar="NAME", help="Token name.")],
    json_output: JsonFlag = False,
) -> None:
    """Revoke every active token called NAME; requests using them get 401 at once."""
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        count = registry.revoke_token(name)
    if session.json:
        emit_json({"revoked": count})
    else:
        say(f"revoked {count} token{'s' if count != 1 else ''} named {name}")


def _status(token: Token, now: datetime) -> str:
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "expired"
    return "active"


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
