"""``modelreg storage stats`` (how much deduplication saves) and ``modelreg gc``: garbage collection of the
chunk store (admins), a dry run unless ``--apply``. ``gc`` stays a top-level command, as it was first."""

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
    from modelreg.types import GcReport, StorageStats

__all__ = ["app", "gc"]

app = typer.Typer(help="The chunk store: what models take up, and how much deduplication saves.")


@app.command()
def stats(
    ctx: typer.Context,
    *,
    name: Annotated[
        str | None, typer.Argument(metavar="[NAME]", help="Only this model (default: every model).")
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Logical bytes, physical (deduplicated) bytes and the dedup ratio, per model and in total.

    Logical: the sum of the version sizes, what pulling every version would write. Physical: each distinct
    chunk those versions reference, counted once, what the chunk store holds for them. Soft-deleted versions
    count (their files stay), purged ones do not. A chunk shared by two models counts in both rows but once
    in the total, so the rows may add up to more than the total.
    """
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        report = registry.storage_stats(name)
    if session.json:
        emit_json(report.to_dict())
    else:
        _print_stats(report)


def _print_stats(report: StorageStats) -> None:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for header in ("MODEL", "VERSIONS", "LOGICAL", "PHYSICAL", "CHUNKS", "DEDUP"):
        table.add_column(header, justify="left" if header == "MODEL" else "right")
    for row in report.models:
        versions = str(row.versions) + (f" ({row.deleted_versions} deleted)" if row.deleted_versions else "")
        table.add_row(
            row.name,
            versions,
            format_bytes(row.logical_bytes),
            format_bytes(row.physical_bytes),
            str(row.chunks),
            f"{row.dedup_ratio:.2f}x",
        )
    if len(report.models) != 1:
        table.add_section()
        table.add_row(
            "total",
            str(report.versions),
            format_bytes(report.logical_bytes),
            format_bytes(report.physical_bytes),
            str(report.chunks),
            f"{report.dedup_ratio:.2f}x",
        )
    Console(highlight=False).print(table)


def gc(
    ctx: typer.Context,
    *,
    apply: Annotated[
        bool, typer.Option("--apply", help="Delete the reclaimable chunks. Without it, a dry run.")
    ] = False,
    json_output: JsonFlag = False,
) -> None:
    """Find the stored chunks no version references, and with --apply delete them.

    Safe while pushes run: chunks of any version (deleted ones included; purged ones not), chunks a client
    was told are present, and chunks written within the grace period (MODELREG_GC_GRACE_SECONDS, default
    24 h) are kept. Needs an admin. A dry run changes nothing; an --apply that deletes is recorded in the
    audit log.
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
