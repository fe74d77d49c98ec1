"""Metric rows, shared by runs and logged models: each key's latest value, and decoding stored values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table, tuple_

from modelreg.metadata.tracking_protocol import StoredMetric
from modelreg.types import Metric

__all__ = ["keep_latest", "metric", "stored_flag"]


def metric(key: str, value: float, is_nan: Any, timestamp: int, step: int) -> Metric:
    """A stored metric as the public type: NaN comes back as NaN."""
    return Metric(key, float("nan") if is_nan else float(value), int(timestamp), int(step))


def stored_flag(text: str | None) -> bool:
    """A boolean read back through a text column of a ``UNION``: 'true'/'false' on PostgreSQL, '1'/'0' on
    SQLite."""
    return str(text).lower() in ("1", "true", "t")


def keep_latest(
    session: Any,
    table: Table,
    owner: str,
    owner_id: str,
    metrics: Sequence[StoredMetric],
    *,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """Upsert each key's latest value: the highest (step, timestamp, value), as MLflow ranks them. One
    statement; the batch is reduced to one row per key first (an upsert may touch a row once)."""
    latest: dict[str, StoredMetric] = {}
    for entry in metrics:
        if entry.key not in latest or entry.rank > latest[entry.key].rank:
            latest[entry.key] = entry
    if not latest:
        return
    columns = {"value", "is_nan", "timestamp", "step", *(extra or {})}
    statement = session._insert(table)
    current = tuple_(table.c.step, table.c.timestamp, table.c.value)
    offered = tuple_(statement.excluded.step, statement.excluded.timestamp, statement.excluded.value)
    statement = statement.on_conflict_do_update(
        index_elements=[owner, "key"],
        set_={column: statement.excluded[column] for column in columns},
        where=current < offered,
    )
    rows = [
        {
            owner: owner_id,
            "key": m.key,
            "value": m.value,
            "is_nan": m.is_nan,
            "timestamp": m.timestamp,
            "step": m.step,
            **(extra or {}),
        }
        for m in latest.values()
    ]
    session._c.execute(statement, rows)
