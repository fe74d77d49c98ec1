"""Governed promotion: ``modelreg promote | approve | reject | cancel | promotions | rollback``.

    modelreg promote churn/3 --to production --comment "beats v2 on the holdout"
    modelreg approve 12 --comment "checked the eval report"      (someone other than the requester)
    modelreg promotions churn --status pending
    modelreg rollback churn@champion [--emergency]

Each prints the request's state (pending with its approvals, or applied); the rules are in
``modelreg.registry.promotion`` and docs/architecture.md ("Governed promotion and policies").
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from modelreg.cli.output import emit_json, say
from modelreg.cli.params import JsonFlag, RefArgument
from modelreg.cli.session import Session
from modelreg.types import Promotion

__all__ = ["approve", "cancel", "promote", "promotions", "reject", "rollback"]

Comment = Annotated[
    str | None, typer.Option("--comment", "-m", metavar="TEXT", help="Why: recorded in the audit trail.")
]
RequestArgument = Annotated[int, typer.Argument(metavar="ID", help="The promotion request's id.")]


def promote(
    ctx: typer.Context,
    *,
    ref: RefArgument,
    to: Annotated[
        str,
        typer.Option("--to", metavar="TARGET", help="A stage (production, staging) or an alias (@champion)."),
    ],
    comment: Comment = None,
    json_output: JsonFlag = False,
) -> None:
    """Ask to move REF's version to TARGET. The policy's checks run now; with no approvals required the move
    is applied at once, else the request waits for approvers."""
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        _show(session, registry.request_promotion(ref, to=to, comment=comment))


def approve(
    ctx: typer.Context, *, request_id: RequestArgument, comment: Comment = None, json_output: JsonFlag = False
) -> None:
    """Approve someone else's promotion request; the last required approval applies it."""
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        _show(session, registry.approve(request_id, comment=comment))


def reject(
    ctx: typer.Context, *, request_id: RequestArgument, comment: Comment = None, json_output: JsonFlag = False
) -> None:
    """Reject someone else's pending promotion request (final)."""
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        _show(session, registry.reject(request_id, comment=comment))


def cancel(
    ctx: typer.Context, *, request_id: RequestArgument, comment: Comment = None, json_output: JsonFlag = False
) -> None:
    """Withdraw your own pending promotion request (final)."""
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        _show(session, registry.cancel(request_id, comment=comment))


def promotions(
    ctx: typer.Context,
    *,
    name: Annotated[str | None, typer.Argument(metavar="[NAME]", help="Only this model's requests.")] = None,
    status: Annotated[
        str | None,
        typer.Option(metavar="STATUS", help="pending, applied, rejected, cancelled or expired."),
    ] = None,
    limit: Annotated[int, typer.Option(metavar="N", help="At most N requests, newest first.")] = 100,
    json_output: JsonFlag = False,
) -> None:
    """Promotion requests, newest first, with their approvals."""
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        found = registry.list_promotions(name, status=status, limit=limit)
    if session.json:
        emit_json([item.to_dict() for item in found])
    else:
        _table(found)


def rollback(
    ctx: typer.Context,
    *,
    ref: Annotated[str, typer.Argument(metavar="NAME@ALIAS", help="The alias to move back.")],
    emergency: Annotated[
        bool, typer.Option("--emergency", help="Skip approvals (promotion:emergency); audited as such.")
    ] = False,
    comment: Comment = None,
    json_output: JsonFlag = False,
) -> None:
    """Move NAME@ALIAS back to the version it pointed to before (a promotion request when approvals are
    required, unless --emergency)."""
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        _show(session, registry.rollback(ref, comment=comment, emergency=emergency))


def _show(session: Session, request: Promotion) -> None:
    if session.json:
        emit_json(request.to_dict())
        return
    state = request.status
    if state == "pending":
        state += f" ({len(request.approvals)}/{request.approvals_required} approvals)"
    say(f"promotion request {request.id}: {request.ref} → {request.target}: {state}")


def _table(found: Iterable[Promotion]) -> None:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for header in ("ID", "VERSION", "TARGET", "KIND", "STATUS", "APPROVALS", "REQUESTED BY", "COMMENT"):
        table.add_column(header, overflow="fold")
    for item in found:
        approvals = ", ".join(approval.actor for approval in item.approvals)
        count = f"{len(item.approvals)}/{item.approvals_required}" + (f" ({approvals})" if approvals else "")
        cells = (str(item.id), item.ref, item.target, item.kind, item.status, count, item.requested_by)
        table.add_row(*(Text(cell) for cell in (*cells, item.comment)))
    if table.row_count:
        Console(highlight=False).print(table)
    else:
        say("no promotion requests")
