"""``modelreg audit list | export | verify``: read, export and verify the hash-chained audit log.

``verify`` checks the registry's chain (admins), or with ``--file`` an export on its own, offline: no
registry, no server, only the file. It prints the verified head ``SEQ:HASH``; an auditor keeps that value
elsewhere (or signs it) and passes it back as ``--anchor`` later to prove that history was not rewritten.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from modelreg.cli.output import emit_json, print_audit_events, say
from modelreg.cli.params import JsonFlag
from modelreg.cli.session import Session
from modelreg.errors import AuditChainBroken, InvalidInput

if TYPE_CHECKING:
    from modelreg.client.client import Client
    from modelreg.types import AuditEvent, AuditVerification

__all__ = ["app"]

app = typer.Typer(
    help="The audit log: list and filter events, export them as JSON lines, verify the hash chain.",
    no_args_is_help=True,
)

_PAGE = 1000

Actor = Annotated[str | None, typer.Option(metavar="ACTOR", help="Only this actor (a user or token:NAME).")]
ModelOption = Annotated[
    str | None, typer.Option("--model", metavar="NAME", help="Only events about this model.")
]
Action = Annotated[
    str | None,
    typer.Option(
        metavar="ACTION", help="source:subject:action, or a prefix ending in '*' (registry:alias:*)."
    ),
]
Since = Annotated[
    str | None, typer.Option(metavar="TIME", help="At or after this time (ISO 8601 with a timezone).")
]
Until = Annotated[
    str | None, typer.Option(metavar="TIME", help="Before this time (ISO 8601 with a timezone).")
]


@app.command("list")
def list_events(
    ctx: typer.Context,
    *,
    actor: Actor = None,
    model: ModelOption = None,
    action: Action = None,
    since: Since = None,
    until: Until = None,
    limit: Annotated[
        int, typer.Option(min=1, help="Show at most this many events (the oldest first).")
    ] = 100,
    json_output: JsonFlag = False,
) -> None:
    """List audit events, oldest first, filtered by actor, model, action and time range."""
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        found = list(
            _events(registry, actor=actor, model=model, action=action, since=since, until=until, limit=limit)
        )
    if session.json:
        emit_json([event.to_dict() for event in found])
    else:
        print_audit_events(found)


@app.command("export")
def export_events(
    ctx: typer.Context,
    *,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", metavar="FILE", help="Write here instead of stdout.")
    ] = None,
    actor: Actor = None,
    model: ModelOption = None,
    action: Action = None,
    since: Since = None,
    until: Until = None,
) -> None:
    """Write events as JSON lines, each with its chain fields (prev_hash, hash): verifiable offline with
    'modelreg audit verify --file'. Unfiltered, the export is the whole chain."""
    session = Session.of(ctx, json=False)
    with session.connect() as registry:
        events = _events(
            registry, actor=actor, model=model, action=action, since=since, until=until, limit=None
        )
        lines = (_line(event) for event in events)
        if output is None:
            sys.stdout.writelines(lines)
            return
        partial = output.with_name(output.name + ".partial")
        with partial.open("w", encoding="utf-8") as handle:
            handle.writelines(lines)
        partial.replace(output)  # never a half-written export under the final name


@app.command("verify")
def verify(
    ctx: typer.Context,
    *,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file", metavar="FILE", help="Verify this export offline instead of the registry's chain."
        ),
    ] = None,
    anchor: Annotated[
        str | None,
        typer.Option(
            metavar="SEQ:HASH", help="A head printed by an earlier verification: it must still hold."
        ),
    ] = None,
    allow_gaps: Annotated[
        bool, typer.Option("--allow-gaps", help="The export was filtered: missing events are not an error.")
    ] = False,
    json_output: JsonFlag = False,
) -> None:
    """Recompute the hash chain and report the first missing, altered or reordered event (exit 1 then)."""
    session = Session.of(ctx, json=json_output)
    if file is not None:
        result = _verify_file(file, allow_gaps=allow_gaps, anchor=anchor)
    else:
        if allow_gaps:
            raise InvalidInput("--allow-gaps applies to an export (--file), not to the registry's chain")
        with session.connect() as registry:
            result = registry.verify_audit(anchor=anchor)
    if session.json:
        emit_json(result.to_dict())
    elif result.ok:
        gaps = f", {result.gaps} gap(s) allowed" if result.gaps else ""
        say(f"ok: {result.events} events verified{gaps}; head {result.head_seq}:{result.head_hash}")
    if not result.ok:
        raise AuditChainBroken(
            f"the audit chain is broken at event {result.first_bad_seq}: {result.reason}",
            details={"first_bad_seq": result.first_bad_seq, "verified_events": result.events},
        )


def _verify_file(file: Path, *, allow_gaps: bool, anchor: str | None) -> AuditVerification:
    from modelreg.registry.audit import verify_export  # here, not at the top: keeps --help fast

    try:
        with file.open(encoding="utf-8") as handle:
            return verify_export(handle, allow_gaps=allow_gaps, anchor=anchor)
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInput(f"cannot read audit export {str(file)!r}: {error}") from None


def _events(
    registry: Client,
    *,
    actor: str | None,
    model: str | None,
    action: str | None,
    since: str | None,
    until: str | None,
    limit: int | None,
) -> Iterator[AuditEvent]:
    token, left = None, limit
    while left is None or left > 0:
        size = _PAGE if left is None else min(left, _PAGE)
        page = registry.audit_events(
            actor=actor, model=model, action=action, since=since, until=until, limit=size, page_token=token
        )
        yield from page.items
        left = None if left is None else left - len(page.items)
        token = page.next_page_token
        if token is None:
            return


def _line(event: AuditEvent) -> str:
    return json.dumps(event.to_dict(), sort_keys=True, ensure_ascii=False) + "\n"
