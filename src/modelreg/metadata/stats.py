"""Storage statistics in SQL: logical bytes, physical (distinct chunk) bytes, per model and in total.

    logical  = Σ versions.size_bytes                       (what pulling every counted version would write)
    physical = Σ size of each distinct chunk they reference (what the chunk store holds for them)

A version counts while its content is kept: live and soft-deleted versions alike (a delete is soft, its
files stay and garbage collection keeps their chunks), purged versions not (their files are gone unless
shared). ``_content_kept`` is that rule, the one place to change it.

Every figure is one aggregate query; nothing is summed in Python over versions or chunks. Physical bytes
go through the file level first (distinct (model, file) pairs, then their chunks), so a file shared by many
versions of a model is expanded into chunks once, not once per version.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, and_, case, func, select

from modelreg.metadata import search
from modelreg.metadata.protocol import AuditRecord
from modelreg.metadata.tables import audit_events, file_chunks, models, version_files, versions

__all__ = ["ModelUsage", "StatsRows"]

# (name, versions, deleted versions, logical bytes, physical bytes, distinct chunks)
ModelUsage = tuple[str, int, int, int, int, int]


def _content_kept() -> ColumnElement[bool]:
    """Versions whose files the registry still holds: all but purged ones (deleted ones keep theirs)."""
    return versions.c.purged_at.is_(None)


class StatsRows:
    _c: Connection

    def storage_usage(
        self, name: str | None = None, *, visible: Sequence[str] | None = None
    ) -> list[ModelUsage]:
        """Per model (only ``name`` when given; only names matching ``visible`` patterns when given), by
        name; models without kept versions show zeros."""
        kept = _content_kept()
        if name is not None:  # inside the subqueries: neither database pushes it into an aggregate
            kept = and_(
                kept,
                versions.c.model_id == select(models.c.id).where(models.c.name == name).scalar_subquery(),
            )
        counted = (
            select(
                versions.c.model_id,
                func.count().label("versions"),
                func.sum(case((versions.c.deleted_at.is_not(None), 1), else_=0)).label("deleted"),
                func.sum(versions.c.size_bytes).label("logical"),
            )
            .where(kept)
            .group_by(versions.c.model_id)
            .subquery()
        )
        model_files = (
            select(versions.c.model_id, version_files.c.file_digest)
            .join(version_files, version_files.c.version_id == versions.c.id)
            .where(kept)
            .distinct()
            .subquery()
        )
        model_chunks = (
            select(model_files.c.model_id, file_chunks.c.chunk_digest, file_chunks.c.size)
            .join(file_chunks, file_chunks.c.file_digest == model_files.c.file_digest)
            .distinct()
            .subquery()
        )
        physical = (
            select(
                model_chunks.c.model_id,
                func.sum(model_chunks.c.size).label("physical"),
                func.count().label("chunks"),
            )
            .group_by(model_chunks.c.model_id)
            .subquery()
        )
        query: Select[Any] = (
            select(
                models.c.name,
                func.coalesce(counted.c.versions, 0),
                func.coalesce(counted.c.deleted, 0),
                func.coalesce(counted.c.logical, 0),
                func.coalesce(physical.c.physical, 0),
                func.coalesce(physical.c.chunks, 0),
            )
            .outerjoin(counted, counted.c.model_id == models.c.id)
            .outerjoin(physical, physical.c.model_id == models.c.id)
            .order_by(models.c.name)
        )
        if name is not None:
            query = query.where(models.c.name == name)
        if visible is not None:  # access control (modelreg.access): models the caller may read
            query = query.where(search.visible(models.c.name, visible, self._c.dialect.name))
        return [(row[0], *(int(value) for value in row[1:])) for row in self._c.execute(query)]

    def storage_total(
        self, name: str | None = None, *, visible: Sequence[str] | None = None
    ) -> tuple[int, int]:
        """(physical bytes, distinct chunks) over every counted version (of ``name`` only, of the models
        ``visible`` patterns match, when given): a chunk shared by several models counts once here, so the
        per-model rows do not sum to this."""
        files = (
            select(version_files.c.file_digest)
            .join(versions, versions.c.id == version_files.c.version_id)
            .where(_content_kept())
        )
        if name is not None or visible is not None:
            files = files.join(models, models.c.id == versions.c.model_id)
        if name is not None:
            files = files.where(models.c.name == name)
        if visible is not None:
            files = files.where(search.visible(models.c.name, visible, self._c.dialect.name))
        chunks = (
            select(file_chunks.c.chunk_digest, file_chunks.c.size)
            .where(file_chunks.c.file_digest.in_(files.distinct()))
            .distinct()
            .subquery()
        )
        total, count = self._c.execute(select(func.coalesce(func.sum(chunks.c.size), 0), func.count())).one()
        return int(total), int(count)

    def creation_event(self, model: str, target: str) -> AuditRecord | None:
        """The registry:version:create event of ``target`` ('name/3'), through the (model, seq) index."""
        where = and_(
            audit_events.c.model == model,
            audit_events.c.target == target,
            audit_events.c.action == "registry:version:create",
        )
        row = self._c.execute(select(audit_events).where(where).limit(1)).first()
        if row is None:
            return None
        return AuditRecord(
            seq=row.seq,
            at=row.at,
            actor=row.actor,
            action=row.action,
            model=row.model,
            target=row.target,
            data_json=row.data,
            prev_hash=row.prev_hash,
            hash=row.hash,
        )
