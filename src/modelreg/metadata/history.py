"""History reads: what an alias or a stage pointed to at an instant, and the audit log filtered.

Every answer is one indexed query on the history tables (``alias_history (model_id, alias, valid_from)``,
``stage_history``, ``versions (model_id, …)``, ``audit_events (seq)``, ``(model, seq)``, ``(actor, seq)``,
``(at)``); nothing replays the audit log. An interval is half-open: ``[valid_from, valid_to)``, so at the
instant of a move the new target is the answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, String, or_, select, type_coerce

from modelreg.metadata.protocol import AuditQuery, AuditRecord
from modelreg.metadata.tables import alias_history, audit_events, audit_head, stage_history, versions

__all__ = ["HistoryRows", "audit_record"]


class HistoryRows:
    _c: Connection

    def alias_target_at(self, model_id: int, alias: str, at: datetime) -> int | None:
        query = (
            select(alias_history.c.version_id)
            .where(
                alias_history.c.model_id == model_id,
                alias_history.c.alias == alias,
                alias_history.c.valid_from <= at,
                or_(alias_history.c.valid_to.is_(None), alias_history.c.valid_to > at),
            )
            # Intervals of one alias never overlap (half-open), so at most one row matches: ordering by the
            # index's own last column lets the scan walk back from ``at`` and stop at the first match
            # (a second sort key made PostgreSQL sort the whole history: 24 ms at 100,000 moves).
            .order_by(alias_history.c.valid_from.desc())
            .limit(1)
        )
        return self._c.execute(query).scalar()

    def alias_ever_set(self, model_id: int, alias: str) -> bool:
        query = select(alias_history.c.id).where(
            alias_history.c.model_id == model_id, alias_history.c.alias == alias
        )
        return self._c.execute(query.limit(1)).first() is not None

    def stage_holder_at(self, model_id: int, stage: str, at: datetime) -> int | None:
        """The version that most recently entered ``stage`` among those in it at ``at``."""
        query = (
            select(stage_history.c.version_id)
            .join(versions, versions.c.id == stage_history.c.version_id)
            .where(
                versions.c.model_id == model_id,
                stage_history.c.stage == stage,
                stage_history.c.valid_from <= at,
                or_(stage_history.c.valid_to.is_(None), stage_history.c.valid_to > at),
            )
            .order_by(stage_history.c.valid_from.desc(), stage_history.c.id.desc())
            .limit(1)
        )
        return self._c.execute(query).scalar()

    def latest_at(self, model_id: int, at: datetime) -> int | None:
        """The highest version number that existed, and was not deleted, at ``at``."""
        query = (
            select(versions.c.id)
            .where(
                versions.c.model_id == model_id,
                versions.c.created_at <= at,
                or_(versions.c.deleted_at.is_(None), versions.c.deleted_at > at),
            )
            .order_by(versions.c.number.desc())
            .limit(1)
        )
        return self._c.execute(query).scalar()

    def version_created_at(self, version_id: int) -> datetime:
        created: datetime = self._c.execute(
            select(versions.c.created_at).where(versions.c.id == version_id)
        ).scalar_one()
        return created

    def audit_query(self, query: AuditQuery) -> list[AuditRecord]:
        """Events matching every given condition, in sequence order, after ``query.after``."""
        statement = select(audit_events).where(audit_events.c.seq > query.after)
        if query.actor is not None:
            statement = statement.where(audit_events.c.actor == query.actor)
        if query.model is not None:
            statement = statement.where(audit_events.c.model == query.model)
        if query.action is not None:
            statement = statement.where(
                audit_events.c.action.startswith(query.action[:-1], autoescape=True)
                if query.action.endswith("*")
                else audit_events.c.action == query.action
            )
        if query.since is not None:
            statement = statement.where(audit_events.c.at >= query.since)
        if query.until is not None:
            statement = statement.where(audit_events.c.at < query.until)
        statement = statement.order_by(audit_events.c.seq).limit(query.limit)
        return [audit_record(row) for row in self._c.execute(statement)]

    def audit_chain(self, *, after: int, limit: int) -> list[AuditRecord]:
        """``audit_events`` for verification, which reads every event: the time column is taken as the
        driver gives it (SQLite: text) and converted here, skipping the column type's per-row processing
        (about a third of the read's cost on SQLite)."""
        columns = [
            type_coerce(column, String) if column.name == "at" else column for column in audit_events.c
        ]
        statement = (
            select(*columns).where(audit_events.c.seq > after).order_by(audit_events.c.seq).limit(limit)
        )
        return [
            AuditRecord(seq, _utc(at), actor, action, model, target, data, prev_hash, hash_)
            for seq, at, actor, action, model, target, data, prev_hash, hash_ in self._c.execute(statement)
        ]

    def audit_chain_head(self) -> tuple[int, str]:
        """The chain head row (last sequence number and hash), read without taking its lock."""
        row = self._c.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).one()
        return int(row.seq), str(row.hash)


def _utc(moment: datetime | str) -> datetime:
    """A stored time as UTCDateTime gives it: SQLite keeps naive UTC text, PostgreSQL's driver a datetime."""
    if isinstance(moment, str):
        return datetime.fromisoformat(moment).replace(tzinfo=UTC)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def audit_record(row: Sequence[Any]) -> AuditRecord:
    # The table's columns are AuditRecord's fields, in order (seq, at, actor, action, model, target, data,
    # prev_hash, hash): positional construction, because verification reads every event of the chain.
    return AuditRecord(*row)
