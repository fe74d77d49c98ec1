"""``modelreg migrate``: copy a whole embedded registry to other stores and prove the copy.

    modelreg --registry ./.modelreg migrate --to-database postgresql://… --to-storage s3://bucket/models
    modelreg --registry postgresql://… --storage s3://bucket/models migrate --to ./backup

The source is the registry the global ``--registry``/``--storage`` options select (an embedded one: a
directory or a database URL, never a server). Re-running an interrupted migration resumes it.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from modelreg.cli.output import emit_json, format_bytes, say
from modelreg.cli.params import JsonFlag
from modelreg.cli.progress import TransferMeter
from modelreg.cli.session import Session
from modelreg.errors import InvalidInput, MigrationIncomplete

if TYPE_CHECKING:
    from modelreg.types import MigrationReport

__all__ = ["migrate"]


def migrate(
    ctx: typer.Context,
    *,
    to_database: Annotated[
        str | None,
        typer.Option(metavar="URL", help="Target database: postgresql://user@host/db or sqlite:///path."),
    ] = None,
    to_storage: Annotated[
        str | None,
        typer.Option(metavar="URL", help="Target chunk store: s3://bucket/prefix or file:///path."),
    ] = None,
    to: Annotated[
        Path | None,
        typer.Option(
            "--to", metavar="DIR", help="Target directory (registry.db + chunks/), instead of the two above."
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option(metavar="ROWS", help="Rows per copied batch.")] = 1_000,
    verify_content: Annotated[
        bool,
        typer.Option(help="Re-read and re-hash every chunk in the target (else check presence and size)."),
    ] = True,
    json_output: JsonFlag = False,
) -> None:
    """Copy this registry (metadata, history, audit, chunks) to another database and chunk store.

    Every chunk a version references is copied (unreferenced ones are left behind) and verified, then every
    table row for row. The target is then verified: rows per table, every version's manifest digest, every
    chunk, the audit chain. Exits non-zero (MIGRATION_INCOMPLETE) if anything differs. Interrupted? Run the
    same command again: what the target holds is skipped. Stop writers to the source first.
    """
    session = Session.of(ctx, json=json_output)
    database, storage = _target(to_database, to_storage, to)
    from modelreg.connection import migrate as run  # the composition root; loads SQLAlchemy

    with _meter(visible=session.interactive) as meter:
        report = run(
            session.target,
            storage=session.storage,
            to_database=database,
            to_storage=storage,
            batch_size=batch_size,
            verify_content=verify_content,
            progress=meter,
        )
    if session.json:
        emit_json(report.to_dict())
    else:
        _print(report)
    if report.problems:
        for problem in report.problems:
            print(f"problem: {problem}", file=sys.stderr)
        raise MigrationIncomplete(
            f"the target differs from the source: {len(report.problems)} problem(s); run migrate again "
            "to copy what is missing",
            details={"problems": list(report.problems)},
        )


def _meter(*, visible: bool) -> TransferMeter:
    """A bar over the referenced chunks' bytes (checked or copied), then counts of rows and versions."""

    def detail(counts: Counter[str]) -> str:
        return (
            f"{format_bytes(counts['copied'])} copied, {counts['rows']} rows, {counts['verified']} verified"
        )

    return TransferMeter("migrating", advances=frozenset({"scanned"}), detail=detail, visible=visible)


def _target(database: str | None, storage: str | None, directory: Path | None) -> tuple[str, str]:
    if directory is not None:
        if database is not None or storage is not None:
            raise InvalidInput("give either --to DIR or --to-database and --to-storage, not both")
        root = directory.expanduser().resolve()
        return f"sqlite:///{root / 'registry.db'}", f"file://{root / 'chunks'}"
    if database is None or storage is None:
        raise InvalidInput("a target is required: --to-database URL and --to-storage URL, or --to DIR")
    return database, storage


def _print(report: MigrationReport) -> None:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for header in ("TABLE", "SOURCE", "TARGET", ""):
        table.add_column(header, justify="left" if header == "TABLE" else "right")
    for entry in report.tables:
        mark = "ok" if entry.source_rows == entry.target_rows else "DIFFERS"
        table.add_row(entry.table, str(entry.source_rows), str(entry.target_rows), mark)
    Console(highlight=False).print(table)
    say(
        f"chunks: {report.chunks_referenced} referenced, {report.chunks_present} already in the target, "
        f"{report.chunks_copied} copied ({format_bytes(report.bytes_copied)})"
    )
    checked = "re-read and re-hashed" if report.content_verified else "present with their sizes"
    say(
        f"verified: {report.versions_verified} version digests, {report.audit_events} audit events, "
        f"chunks {checked} ({report.seconds:.1f} s)"
    )
    say("migration verified: the target equals the source" if not report.problems else "migration INCOMPLETE")
