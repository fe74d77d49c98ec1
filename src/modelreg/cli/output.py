"""Rendering: one JSON document for machines, Rich tables for people, one line per error.

User data (names, tags, descriptions) is wrapped in ``rich.text.Text`` so that text such as ``[red]`` is
shown as typed, never interpreted as markup. Lines that scripts may parse (summaries, errors) are written
with plain ``print`` so Rich never wraps them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sized
from datetime import datetime
from typing import TYPE_CHECKING, Any

# Typer's own help already imports these three, so importing them here costs --help nothing.
from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from modelreg.types import AliasChange, AuditEvent, Deployment, Model, ModelVersion

__all__ = [
    "count_files",
    "emit_json",
    "format_bytes",
    "format_mb",
    "print_alias_history",
    "print_audit_events",
    "print_deployments",
    "print_error",
    "print_models",
    "print_version",
    "print_versions",
    "say",
]

_SHORT_DIGEST = len("sha256:") + 12
_UNWRAPPED = 10_000  # columns


def emit_json(data: Any) -> None:
    """The whole machine output of a command: one JSON document on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def say(line: str) -> None:
    print(line)


def print_error(code: str, message: str) -> None:
    """``error: CODE: message`` — always exactly one line on stderr."""
    print(f"error: {code}: {' '.join(message.split())}", file=sys.stderr)


def format_bytes(size: int) -> str:
    """Decimal units, like disk vendors and network throughput: 1 MB = 10^6 bytes."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")  # pragma: no cover


def format_mb(size: int) -> str:
    """Megabytes with enough digits that a small push does not read as nothing."""
    value = size / 1_000_000
    return f"{value:.1f} MB" if value >= 1 or value == 0 else f"{value:.2f} MB"


def count_files(files: Sized) -> str:
    return "1 file" if len(files) == 1 else f"{len(files)} files"


def print_models(models: Iterable[Model]) -> None:
    table = _table("MODEL", "LATEST", "ALIASES", "TAGS", "DESCRIPTION", "UPDATED")
    for model in models:
        latest = "-" if model.latest_version is None else str(model.latest_version)
        aliases = ", ".join(f"@{alias}→{version}" for alias, version in sorted(model.aliases.items()))
        cells = (model.name, latest, aliases, _pairs(model.tags), model.description)
        table.add_row(*_cells(*cells, _when(model.updated_at)))
    _print_or_empty(table, "no models yet: push one with 'modelreg push NAME PATH'")


def print_versions(versions: Iterable[ModelVersion]) -> None:
    table = _table("MODEL", "VERSION", "STAGE", "ALIASES", "DIGEST", "SIZE", "METRICS", "CREATED")
    for version in versions:
        number = str(version.version) + _marks(version)
        aliases = " ".join(f"@{alias}" for alias in version.aliases)
        cells = (version.name, number, version.stage, aliases, _short(version.digest))
        size = format_bytes(version.size_bytes)
        table.add_row(*_cells(*cells, size, _pairs(version.metrics), _when(version.created_at)))
    _print_or_empty(table, "no versions")


def print_alias_history(changes: Iterable[AliasChange]) -> None:
    table = _table("ALIAS", "VERSION", "SINCE", "UNTIL", "SET BY", "ENDED BY")
    for change in changes:
        until = "(current)" if change.until is None else _when(change.until)
        cells = (f"{change.name}@{change.alias}", str(change.version), _when(change.since), until)
        table.add_row(*_cells(*cells, change.set_by, change.ended_by or ""))
    _print_or_empty(table, "no history")


def print_audit_events(events: Iterable[AuditEvent]) -> None:
    table = _table("SEQ", "TIME", "ACTOR", "ACTION", "TARGET", "DATA")
    for event in events:
        data = json.dumps(event.data, sort_keys=True, ensure_ascii=False)
        table.add_row(*_cells(str(event.seq), _when(event.at), event.actor, event.action, event.target, data))
    _print_or_empty(table, "no audit events match")


def print_deployments(deployments: Iterable[Deployment]) -> None:
    table = _table("ENVIRONMENT", "ENDPOINT", "VERSION", "DIGEST", "SINCE", "UNTIL", "BY", "RUN", "DATASETS")
    for item in deployments:
        until = "(serving)" if item.ended_at is None else _when(item.ended_at)
        datasets = ", ".join(_dataset(dataset) for dataset in item.lineage.datasets)
        cells = (item.environment, item.endpoint or "", item.ref, _short(item.digest), _when(item.started_at))
        table.add_row(*_cells(*cells, until, item.started_by, item.lineage.run_id or "", datasets))
    _print_or_empty(table, "no deployments")


def _dataset(dataset: Any) -> str:
    role = f" ({dataset.role})" if dataset.role else ""
    digest = f" {_short(dataset.digest)}" if dataset.digest else ""
    return f"{dataset.name}{role}{digest}"


def print_version(version: ModelVersion) -> None:
    """Everything about one version: a key/value block, then its files."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for key, value in _version_fields(version):
        grid.add_row(*_cells(key, value))
    files = _table("FILE", "SIZE", "DIGEST")
    for entry in version.files:
        files.add_row(*_cells(entry.path, format_bytes(entry.size), entry.digest))
    _console().print(grid, "", files)


def _version_fields(version: ModelVersion) -> list[tuple[str, str]]:
    fields = [
        ("version", version.ref + _marks(version, sep="  ")),
        ("digest", version.digest),
        ("stage", version.stage),
        ("aliases", " ".join(f"@{alias}" for alias in version.aliases)),
        ("created", f"{_when(version.created_at)} by {version.created_by}"),
        ("size", f"{format_bytes(version.size_bytes)} in {count_files(version.files)}"),
        ("description", version.description),
        ("metrics", _pairs(version.metrics)),
        ("params", _pairs(version.params)),
        ("tags", _pairs(version.tags)),
    ]
    lineage = {key: value for key, value in version.lineage.to_dict().items() if value}
    if lineage:
        fields.append(("lineage", json.dumps(lineage, ensure_ascii=False)))
    if version.signature is not None:
        fields.append(("signature", json.dumps(version.signature, ensure_ascii=False)))
    return [(key, value) for key, value in fields if value]


def _marks(version: ModelVersion, *, sep: str = " ") -> str:
    """' (deleted)', ' (purged)', ' (deleted, purged)' or nothing."""
    marks = [mark for mark, on in (("deleted", version.deleted), ("purged", version.purged)) if on]
    return f"{sep}({', '.join(marks)})" if marks else ""


def _console() -> Console:
    # Into a pipe or a file, rows must not wrap at Rich's default 80 columns: one row stays one line.
    return Console(highlight=False, width=None if sys.stdout.isatty() else _UNWRAPPED)


def _table(*headers: str) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for header in headers:
        table.add_column(header, overflow="fold")
    return table


def _cells(*values: str) -> list[Text]:
    return [Text(value) for value in values]


def _print_or_empty(table: Table, empty: str) -> None:
    if table.row_count:
        _console().print(table)
    else:
        print(empty, file=sys.stderr)


def _pairs(mapping: Mapping[str, object]) -> str:
    return "  ".join(f"{key}={value}" for key, value in sorted(mapping.items()))


def _short(digest: str) -> str:
    return digest[:_SHORT_DIGEST]


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
