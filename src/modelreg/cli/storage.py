"""``modelreg gc``: garbage collection of the chunk store (admins), a dry run unless ``--apply``."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from modelreg.cli.output import emit_json, format_bytes, say
from modelreg.cli.params import JsonFlag
from modelreg.cli.session import Session

if TYPE_CHECKING:
    from modelreg.types import GcReport

__all__ = ["gc"]


def gc(
    ctx: typer.Context,
    *,
    apply: Annotated[
        bool, typer.Option("--apply", help="Delete the reclaimable chunks. Without it, a dry run.")
    ] = False,
    json_output: JsonFlag = False,
) -> None:
    """Find the stored chunks no version references, and with --apply delete them.

    Safe while pushes run: chunks of any version (deleted ones included), chunks a client was told are
    present, and chunks written within the grace period (MODELREG_GC_GRACE_SECONDS, default 24 h) are kept.
    Needs an admin. A dry run changes nothing; an --apply that deletes is recorded in the audit log.
    """
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        report = registry.collect_garbage(apply=apply)
    if session.json:
        emit_json(report.to_dict())
    else:
        _print_report(report)
    if report.missing_chunks:
        print(
            f"warning: {report.missing_chunks} chunk(s) that versions reference are missing from the store: "
            "those versions cannot be pulled until the chunks are pushed again",
            file=sys.stderr,
        )


def _print_report(report: GcReport) -> None:
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("CHUNKS")
    table.add_column("COUNT", justify="right")
    table.add_column("BYTES", justify="right")
    table.add_column("")
    grace = _duration(report.grace_seconds)
    table.add_row("scanned", str(report.scanned_chunks), "", "in the store")
    table.add_row("referenced", str(report.referenced_chunks), "", "by versions: kept")
    table.add_row("protected", str(report.protected_chunks), "", f"written or promised in the last {grace}")
    reclaimable = format_bytes(report.reclaimable_bytes)
    table.add_row("reclaimable", str(report.reclaimable_chunks), reclaimable, "referenced by nothing")
    if report.applied:
        table.add_row("deleted", str(report.deleted_chunks), format_bytes(report.deleted_bytes), "")
    Console(highlight=False).print(table)
    timing = f"mark {report.mark_seconds:.2f} s"
    if report.applied:
        say(
            f"deleted {report.deleted_chunks} chunk(s), {format_bytes(report.deleted_bytes)} ({timing}, "
            f"sweep {report.sweep_seconds:.2f} s)"
        )
    else:
        say(f"dry run: nothing deleted ({timing}); run 'modelreg gc --apply' to delete")


def _duration(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:.0f} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:g} s"
