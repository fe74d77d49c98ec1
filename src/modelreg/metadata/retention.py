"""Retention rows: purge marks, legal holds and retention policies (the rules: registry/retention.py).

Writers hold the model's row lock (``model_id(lock=True)``) before any of these writes, except the global
policy's, which only the upsert's conflict on its primary key serialises.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Table, and_, delete, or_, select, update

from modelreg.metadata import search
from modelreg.metadata.protocol import VersionState
from modelreg.metadata.tables import (
    aliases,
    models,
    retention_policies,
    stage_history,
    version_holds,
    versions,
)
from modelreg.types import LegalHold, RetentionPolicy

__all__ = ["GLOBAL", "RetentionRows"]

GLOBAL = 0  # ``retention_policies.model_id`` of the global policy


class RetentionRows:
    _c: Connection
    _insert: Callable[[Table], Any]  # SqlSession's INSERT … ON CONFLICT of its own dialect

    # Purges -----------------------------------------------------------------------------------------------
    def mark_purged(self, version_id: int, *, at: datetime, actor: str) -> None:
        values = {"purged_at": at, "purged_by": actor, "updated_at": at}
        self._c.execute(update(versions).where(versions.c.id == version_id).values(**values))

    # Legal holds ------------------------------------------------------------------------------------------
    def hold(self, version_id: int) -> LegalHold | None:
        found = self._holds(version_holds.c.version_id == version_id)
        return found[0] if found else None

    def set_hold(self, version_id: int, reason: str, *, at: datetime, actor: str) -> str | None:
        previous = self._c.execute(
            select(version_holds.c.reason).where(version_holds.c.version_id == version_id)
        ).scalar()
        row = {"version_id": version_id, "reason": reason, "created_at": at, "created_by": actor}
        statement = self._insert(version_holds).values(**row)
        statement = statement.on_conflict_do_update(
            index_elements=["version_id"],
            set_={"reason": statement.excluded.reason},  # re-worded: the hold's start and author stay
        )
        self._c.execute(statement)
        return previous

    def delete_hold(self, version_id: int) -> str | None:
        where = version_holds.c.version_id == version_id
        previous = self._c.execute(select(version_holds.c.reason).where(where)).scalar()
        if previous is not None:
            self._c.execute(delete(version_holds).where(where))
        return previous

    def holds(self, model_id: int | None, *, visible: Sequence[str] | None = None) -> list[LegalHold]:
        conditions = [] if model_id is None else [versions.c.model_id == model_id]
        if visible is not None:  # access control: models the caller may read (modelreg.access)
            conditions.append(search.visible(models.c.name, visible, self._c.dialect.name))
        return self._holds(*conditions)

    def _holds(self, *conditions: Any) -> list[LegalHold]:
        query = (
            select(version_holds, models.c.name, versions.c.number)
            .join(versions, versions.c.id == version_holds.c.version_id)
            .join(models, models.c.id == versions.c.model_id)
            .where(*conditions)
            .order_by(models.c.name, versions.c.number)
        )
        return [
            LegalHold(row.name, row.number, row.reason, row.created_at, row.created_by)
            for row in self._c.execute(query)
        ]

    # Policies ---------------------------------------------------------------------------------------------
    def retention_policies(self, *, visible: Sequence[str] | None = None) -> list[RetentionPolicy]:
        query = (
            select(retention_policies, models.c.name)
            .outerjoin(models, models.c.id == retention_policies.c.model_id)
            .order_by(retention_policies.c.model_id != GLOBAL, models.c.name)
        )
        if visible is not None:  # the global policy, and the policies of models the caller may read
            readable = search.visible(models.c.name, visible, self._c.dialect.name)
            query = query.where(or_(retention_policies.c.model_id == GLOBAL, readable))
        return [_policy(row) for row in self._c.execute(query)]

    def retention_policy(self, model_id: int | None) -> RetentionPolicy | None:
        query = (
            select(retention_policies, models.c.name)
            .outerjoin(models, models.c.id == retention_policies.c.model_id)
            .where(retention_policies.c.model_id == (GLOBAL if model_id is None else model_id))
        )
        row = self._c.execute(query).first()
        return None if row is None else _policy(row)

    def set_retention_policy(
        self,
        model_id: int | None,
        *,
        keep_last: int | None,
        archived_days: int | None,
        deleted_days: int | None,
        at: datetime,
        actor: str,
    ) -> None:
        rules = {
            "keep_last": keep_last,
            "archived_days": archived_days,
            "deleted_days": deleted_days,
            "updated_at": at,
            "updated_by": actor,
        }
        statement = self._insert(retention_policies).values(
            model_id=GLOBAL if model_id is None else model_id, **rules
        )
        self._c.execute(statement.on_conflict_do_update(index_elements=["model_id"], set_=rules))

    def delete_retention_policy(self, model_id: int | None) -> bool:
        where = retention_policies.c.model_id == (GLOBAL if model_id is None else model_id)
        return bool(self._c.execute(delete(retention_policies).where(where)).rowcount)

    def retention_models(self, *, deleted: bool) -> list[tuple[int, str]]:
        query = select(models.c.id, models.c.name).order_by(models.c.name)
        if not deleted:
            query = query.where(models.c.deleted_at.is_(None))
        return [(row.id, row.name) for row in self._c.execute(query)]

    def lock_model_row(self, model_id: int) -> str:
        query = select(models.c.name).where(models.c.id == model_id).with_for_update()
        name: str = self._c.execute(query).scalar_one()
        return name

    def retention_states(self, model_id: int) -> list[VersionState]:
        current = and_(stage_history.c.version_id == versions.c.id, stage_history.c.valid_to.is_(None))
        query = (
            select(versions, stage_history.c.valid_from.label("stage_since"), version_holds.c.reason)
            .outerjoin(stage_history, current)
            .outerjoin(version_holds, version_holds.c.version_id == versions.c.id)
            .where(versions.c.model_id == model_id, versions.c.purged_at.is_(None))
            .order_by(versions.c.number.desc())
        )
        rows = list(self._c.execute(query))
        names: dict[int, list[str]] = defaultdict(list)
        alias_rows = select(aliases.c.version_id, aliases.c.alias).where(aliases.c.model_id == model_id)
        for version_id, alias in self._c.execute(alias_rows.order_by(aliases.c.alias)):
            names[version_id].append(alias)
        return [_state(row, tuple(names[row.id])) for row in rows]


def _policy(row: Row[Any]) -> RetentionPolicy:
    return RetentionPolicy(
        name=None if row.model_id == GLOBAL else row.name,
        keep_last=row.keep_last,
        archived_days=row.archived_days,
        deleted_days=row.deleted_days,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


def _state(row: Row[Any], alias_names: tuple[str, ...]) -> VersionState:
    return VersionState(
        version_id=row.id,
        number=row.number,
        deleted_at=row.deleted_at,
        stage=row.stage,
        stage_since=row.stage_since,
        size_bytes=row.size_bytes,
        aliases=alias_names,
        held=row.reason is not None,
    )
