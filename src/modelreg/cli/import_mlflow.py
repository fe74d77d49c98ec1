"""``modelreg import-mlflow``: copy an MLflow registry into this one, then prove the copy.

    modelreg --registry http://modelreg:8080 import-mlflow --from http://mlflow:5000
    modelreg import-mlflow --from sqlite:///mlflow.db --artifact-root /srv/mlartifacts --registry ./reg

A thin shell over ``modelreg.interop.import_mlflow``: it prints each version's outcome as it happens (on
stderr), then the reconciliation table, and exits non-zero when anything differs.
"""

from __future__ import annotations

import dataclasses
import sys
from collections import Counter
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from modelreg.cli.output import emit_json, say
from modelreg.cli.params import JsonFlag
from modelreg.cli.session import Session
from modelreg.errors import ImportIncomplete

if TYPE_CHECKING:
    from modelreg.interop import ImportReport, ModelReconciliation, VersionOutcome

__all__ = ["import_mlflow"]

_SHORT = len("sha256:") + 12
_UNWRAPPED = 10_000


def import_mlflow(
    ctx: typer.Context,
    *,
    source: Annotated[
        str,
        typer.Option(
            "--from",
            metavar="URI",
            help="The MLflow registry: a tracking server (http://mlflow:5000) or its database "
            "(sqlite:///mlflow.db, postgresql://…).",
        ),
    ],
    artifact_root: Annotated[
        str | None,
        typer.Option(
            metavar="PATH",
            help="Where mlflow-artifacts:/ URIs live, when --from is a database: the server's "
            "--artifacts-destination.",
        ),
    ] = None,
    registry: Annotated[
        str | None,
        typer.Option(
            metavar="PATH|URL",
            help="The target registry (default: the global --registry / MODELREG_REGISTRY).",
        ),
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option("--model", metavar="NAME", help="Import only this registered model (repeatable)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Read both registries and report; write nothing.")
    ] = False,
    json_output: JsonFlag = False,
) -> None:
    """Import registered models from MLflow: versions with their files (numbers kept), tags, descriptions,
    stages, aliases, and each version's run id, metrics and params.

    Idempotent: versions already here with the same digest are skipped, so running it again imports only
    what is new. A number used here for other files is a conflict, never overwritten. Then both registries
    are compared model by model (versions, tags, aliases, stages, digests); any difference exits with
    INTEGRITY_ERROR (5). Needs version:import (admins) and MLflow's client (the mlflow-compat extra).
    """
    session = Session.of(ctx, json=json_output)
    if registry is not None:
        session = dataclasses.replace(session, target=registry)
    from modelreg.interop import import_mlflow as run  # MLflow and the SDK load only when a command runs

    with session.connect() as client:
        report = run(
            client,
            source,
            artifact_root=artifact_root,
            models=model or None,
            dry_run=dry_run,
            on_outcome=None if session.json else _print_outcome,
        )
    if session.json:
        emit_json(report.to_dict())
    else:
        _print(report)
    if report.problems:
        for problem in report.problems:
            print(f"problem: {problem}", file=sys.stderr)
        raise ImportIncomplete(
            f"the target differs from the MLflow source: {len(report.problems)} problem(s)",
            details={"problems": list(report.problems)},
        )


def _print_outcome(outcome: VersionOutcome) -> None:
    digest = (outcome.source_digest or "")[:_SHORT]
    detail = f": {outcome.detail}" if outcome.detail else ""
    print(f"{outcome.action} {outcome.ref} {digest}{detail}".rstrip(), file=sys.stderr)


def _print(report: ImportReport) -> None:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for header in ("MODEL", "VERSIONS", "TAGS", "ALIASES", "STAGES", "DIGESTS", "ACTIONS", ""):
        table.add_column(header, justify="left" if header in ("MODEL", "ACTIONS") else "right")
    per_model: dict[str, Counter[str]] = {}
    for outcome in report.outcomes:
        per_model.setdefault(outcome.name, Counter())[outcome.action] += 1
    for row in report.models:
        table.add_row(*(Text(cell) for cell in _cells(row, per_model.get(row.name, Counter()))))
    Console(highlight=False, width=None if sys.stdout.isatty() else _UNWRAPPED).print(table)
    say("source → target, per model; DIGESTS: versions whose files match / versions compared")
    for note in report.notes:
        say(f"note: {note}")
    counts = _actions(Counter(outcome.action for outcome in report.outcomes))
    written = "dry run: nothing was written" if report.dry_run else (counts or "no versions")
    verdict = "the target matches the source" if report.ok else "the target DIFFERS from the source"
    say(f"{written}; {verdict} ({report.seconds:.1f} s)")


def _cells(row: ModelReconciliation, actions: Counter[str]) -> tuple[str, ...]:
    return (
        row.name,
        f"{row.source.versions} → {row.target.versions}",
        f"{row.source.tags} → {row.target.tags}",
        f"{row.source.aliases} → {row.target.aliases}",
        f"{row.source.staged} → {row.target.staged}",
        f"{row.digests_matching}/{row.digests_compared}",
        _actions(actions),
        "ok" if row.ok else "DIFFERS",
    )


def _actions(counts: Counter[str]) -> str:
    """'3 imported, 1 present' (in the order the outcomes came)."""
    return ", ".join(f"{count} {action}" for action, count in counts.items())
