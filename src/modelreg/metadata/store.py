"""``SqlMetadataStore``: the metadata seam on SQLite or PostgreSQL (SQLAlchemy 2 Core, sync).

Each ``session()`` is one database transaction. Database failures become ``StorageUnavailable``; nothing
SQLAlchemy-specific leaves this package.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from modelreg.errors import ModelregError, StorageUnavailable
from modelreg.metadata import search
from modelreg.metadata.artifacts import ArtifactRows
from modelreg.metadata.catalog import CatalogRows
from modelreg.metadata.collection import CollectionRows
from modelreg.metadata.deployments import DeploymentRows
from modelreg.metadata.engine import SqliteWriters, make_engine, migrate, named_lock
from modelreg.metadata.history import HistoryRows
from modelreg.metadata.principals import PrincipalRows
from modelreg.metadata.promotions import PromotionRows
from modelreg.metadata.protocol import AuditRecord, NewVersion
from modelreg.metadata.reads import Reads
from modelreg.metadata.retention import RetentionRows
from modelreg.metadata.stats import StatsRows
from modelreg.metadata.tables import (
    alias_history,
    aliases,
    audit_events,
    audit_head,
    file_chunks,
    files,
    idempotency_keys,
    model_tags,
    models,
    stage_history,
    version_datasets,
    version_files,
    version_metrics,
    version_params,
    version_parents,
    version_tags,
    versions,
)
from modelreg.metadata.tokens import TokenRows
from modelreg.metadata.tracking import TrackingRows
from modelreg.registry.filters import Expr, OrderKey
from modelreg.types import Model

__all__ = ["SqlMetadataStore", "SqlSession"]


# Expired idempotency keys go in bounded batches, oldest first, once the oldest is an hour past its expiry:
# most keyed commits only read the oldest time (the first entry of an index), none deletes over 1,000 keys.
_FORGET_SLACK = timedelta(hours=1)
_FORGET_KEY = delete(idempotency_keys).where(idempotency_keys.c.key == bindparam("key"))
_OLDEST_KEY = select(func.min(idempotency_keys.c.created_at))
_FORGET_EXPIRED = delete(idempotency_keys).where(
    idempotency_keys.c.key.in_(
        select(idempotency_keys.c.key)
        .where(idempotency_keys.c.created_at < bindparam("before"))
        .order_by(idempotency_keys.c.created_at)
        .limit(1000)
    )
)
# The chain head and its event's time, in one round trip; the row lock (PostgreSQL) orders every writer.
_LOCK_AUDIT_HEAD = (
    select(audit_head.c.seq, audit_head.c.hash, audit_events.c.at)
    .select_from(audit_head.outerjoin(audit_events, audit_events.c.seq == audit_head.c.seq))
    .where(audit_head.c.id == literal_column("1"))
    .with_for_update(of=audit_head)
)
# Built once: an event is appended in every write transaction, and building a statement costs more than
# running it on SQLite.
_APPEND_EVENT = insert(audit_events).values(
    {column.name: bindparam(f"event_{column.name}") for column in audit_events.columns}
)
_MOVE_HEAD = (
    update(audit_head)
    .where(audit_head.c.id == literal_column("1"))
    .values(seq=bindparam("event_seq"), hash=bindparam("event_hash"))
)


@functools.cache
def _postgres_audit_writes() -> tuple[str, str]:
    """The audit chain's lock and append as PostgreSQL text, for the driver's cursor (``audit_head``).

    The insert rides in the head's UPDATE as a data-modifying WITH: one round trip for both.
    """
    from sqlalchemy.dialects import postgresql

    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    append = _MOVE_HEAD.add_cte(_APPEND_EVENT.cte("event"))
    return str(_LOCK_AUDIT_HEAD.compile(dialect=dialect)), str(append.compile(dialect=dialect))


class SqlMetadataStore:
    def __init__(self, url: str) -> None:
        self.url = url
        self._engine = make_engine(url)
        # SQLite admits one writer at a time: its writers queue on a lock first (see SqliteWriters).
        self._writers = (
            SqliteWriters(self._engine.url.database) if self._engine.dialect.name == "sqlite" else None
        )
        # PostgreSQL reads run in autocommit: at READ COMMITTED every statement takes its own snapshot
        # anyway, so BEGIN/COMMIT around a read adds two round trips (~0.15 ms) and no consistency. SQLite
        # reads keep their transaction: there it is what gives the statements one snapshot.
        self._read_options: dict[str, Any] = (
            {} if self._engine.dialect.name == "sqlite" else {"isolation_level": "AUTOCOMMIT"}
        )
        try:
            migrate(self._engine)
        except SQLAlchemyError as error:
            raise StorageUnavailable(f"metadata database unavailable at {_safe(url)}: {error}") from None

    @contextmanager
    def session(self, *, write: bool = False, snapshot: bool = False) -> Iterator[SqlSession]:
        try:
            with (
                self._writers if write and self._writers is not None else nullcontext(),
                self._engine.connect() as plain,
            ):
                # SQLite reads the option in its "begin" hook to take the write lock up front.
                options = {"modelreg_write": True} if write else self._read_options
                if snapshot and not write and self._engine.dialect.name == "postgresql":
                    options = {"isolation_level": "REPEATABLE READ"}
                connection = plain.execution_options(**options) if options else plain
                with connection.begin():
                    yield SqlSession(connection)
        except ModelregError:
            raise
        except DBAPIError as error:
            raise StorageUnavailable(f"metadata database error: {error.orig}") from None
        except SQLAlchemyError as error:
            raise StorageUnavailable(f"metadata database error: {error}") from None

    @contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        try:
            with named_lock(self._engine, name):
                yield
        except ModelregError:
            raise
        except SQLAlchemyError as error:
            raise StorageUnavailable(f"metadata database error: {error}") from None

    def close(self) -> None:
        self._engine.dispose()


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    head, at, tail = url.rpartition("@")
    if not at:
        return url
    scheme, _, credentials = head.partition("://")
    return f"{scheme}://{credentials.split(':', 1)[0]}@{tail}"


class SqlSession(
    Reads,
    CatalogRows,
    TokenRows,
    CollectionRows,
    StatsRows,
    RetentionRows,
    HistoryRows,
    DeploymentRows,
    PromotionRows,
    PrincipalRows,
    TrackingRows,
    ArtifactRows,
):
    def __init__(self, connection: Connection) -> None:
        super().__init__(connection)
        self._dialect = connection.dialect.name

    # Keys and locks ---------------------------------------------------------------------------------------
    def model_id(self, name: str, *, lock: bool = False) -> int | None:
        query = select(models.c.id).where(models.c.name == name, models.c.deleted_at.is_(None))
        if lock:
            query = query.with_for_update()
        return self._c.execute(query).scalar()

    def search_versions(
        self,
        expr: Expr | None,
        order: list[OrderKey],
        *,
        include_deleted: bool,
        limit: int,
        offset: int,
        visible: Sequence[str] | None = None,
    ) -> list[int]:
        query = (
            select(versions.c.id)
            .select_from(versions.join(models, versions.c.model_id == models.c.id))
            .where(models.c.deleted_at.is_(None))  # a deleted model's versions: gone, even with deleted ones
        )
        if visible is not None:
            query = query.where(search.visible(models.c.name, visible, self._dialect))
        if expr is not None:
            query = query.where(search.version_condition(expr))
        if not include_deleted:
            query = query.where(versions.c.deleted_at.is_(None))
        ordering = search.version_order(order)
        required = search.sort_metric_filter(expr, order)
        if required is not None:
            # The filter guarantees the sort metric exists: join it once and sort on the joined value.
            metric = version_metrics.alias("sort_metric")
            query = query.join(
                metric, (metric.c.version_id == versions.c.id) & (metric.c.key == required.field.key)
            ).where(search.compare(metric.c.value, required))
            value = metric.c.value.desc() if order[0].descending else metric.c.value.asc()
            ordering = [value, *search.version_order(order[1:])]
        query = query.order_by(*ordering).limit(limit).offset(offset)
        return list(self._c.execute(query).scalars())

    def search_models(
        self,
        expr: Expr | None,
        order: list[OrderKey],
        *,
        limit: int,
        offset: int,
        visible: Sequence[str] | None = None,
    ) -> list[Model]:
        query = select(models.c.id).where(models.c.deleted_at.is_(None))
        if visible is not None:
            query = query.where(search.visible(models.c.name, visible, self._dialect))
        if expr is not None:
            query = query.where(search.model_condition(expr))
        query = query.order_by(*search.model_order(order)).limit(limit).offset(offset)
        return self.models_by_id(list(self._c.execute(query).scalars()))

    # Models (create, revive, rename, delete: ``metadata.catalog``) ------------------------------------------
    def set_model_tag(self, model_id: int, key: str, value: str, *, at: datetime) -> str | None:
        return self._upsert_entry(model_tags, "model_id", model_id, key, value, at=at)

    def delete_model_tag(self, model_id: int, key: str, *, at: datetime) -> str | None:
        return self._delete_entry(model_tags, "model_id", model_id, key, at=at)

    def set_model_description(self, model_id: int, text: str, *, at: datetime) -> str:
        previous: str = self._c.execute(
            select(models.c.description).where(models.c.id == model_id)
        ).scalar_one()
        self._c.execute(update(models).where(models.c.id == model_id).values(description=text, updated_at=at))
        return previous

    # Versions ---------------------------------------------------------------------------------------------
    def insert_version(self, model_id: int, new: NewVersion) -> int:
        self._record_files(new)
        row = {
            "model_id": model_id,
            "number": new.number,
            "digest": new.digest,
            "manifest": new.manifest_json,
            "size_bytes": new.size_bytes,
            "file_count": len(new.files),
            "description": new.description,
            "stage": "none",
            "run_id": new.run_id,
            "lineage": new.lineage_json,
            "signature": new.signature_json,
            "created_at": new.created_at,
            "created_by": new.created_by,
            "updated_at": new.created_at,
        }
        version_id: int = self._c.execute(
            insert(versions).values(**row).returning(versions.c.id)
        ).scalar_one()
        self._insert_children(version_id, new)
        self._c.execute(update(models).where(models.c.id == model_id).values(updated_at=new.created_at))
        return version_id

    def _record_files(self, new: NewVersion) -> None:
        if not new.contents:
            return
        rows = [
            {"digest": c.digest, "size": c.size, "chunks": c.chunks_json, "created_at": new.created_at}
            for c in new.contents
        ]
        self._c.execute(self._insert(files).on_conflict_do_nothing(index_elements=["digest"]), rows)
        chunk_rows = [
            {"file_digest": c.digest, "seq": seq, "chunk_digest": chunk, "size": size}
            for c in new.contents
            for seq, (chunk, size) in enumerate(json.loads(c.chunks_json))
        ]
        if chunk_rows:
            insert_chunks = self._insert(file_chunks).on_conflict_do_nothing(
                index_elements=["file_digest", "seq"]
            )
            self._c.execute(insert_chunks, chunk_rows)

    def _insert_children(self, version_id: int, new: NewVersion) -> None:
        children: list[tuple[Table, list[dict[str, Any]]]] = [
            (version_files, [{"path": p, "file_digest": d, "size": s} for p, d, s in new.files]),
            (version_metrics, [{"key": k, "value": v} for k, v in new.metrics.items()]),
            (version_params, [{"key": k, "value": v} for k, v in new.params.items()]),
            (version_tags, [{"key": k, "value": v} for k, v in new.tags.items()]),
            (version_parents, [{"parent_id": parent} for parent in dict.fromkeys(new.parent_ids)]),
            (
                version_datasets,
                [{"name": d.name, "uri": d.uri, "digest": d.digest, "role": d.role} for d in new.datasets],
            ),
        ]
        for table, rows in children:
            if rows:
                self._c.execute(insert(table), [{"version_id": version_id, **row} for row in rows])

    def set_version_tag(self, version_id: int, key: str, value: str, *, at: datetime) -> str | None:
        return self._upsert_entry(version_tags, "version_id", version_id, key, value, at=at)

    def delete_version_tag(self, version_id: int, key: str, *, at: datetime) -> str | None:
        return self._delete_entry(version_tags, "version_id", version_id, key, at=at)

    def set_version_description(self, version_id: int, text: str, *, at: datetime) -> str:
        query = select(versions.c.description).where(versions.c.id == version_id)
        previous: str = self._c.execute(query).scalar_one()
        self._touch(version_id, at, description=text)
        return previous

    def set_stage(
        self, version_id: int, stage: str, *, at: datetime, actor: str, request_id: int | None = None
    ) -> str:
        previous: str = self._c.execute(
            select(versions.c.stage).where(versions.c.id == version_id)
        ).scalar_one()
        self._touch(version_id, at, stage=stage)
        open_interval = and_(stage_history.c.version_id == version_id, stage_history.c.valid_to.is_(None))
        self._c.execute(update(stage_history).where(open_interval).values(valid_to=at, ended_by=actor))
        self._c.execute(
            insert(stage_history).values(
                version_id=version_id, stage=stage, valid_from=at, set_by=actor, request_id=request_id
            )
        )
        return previous

    def mark_deleted(self, version_id: int, *, at: datetime, actor: str) -> None:
        self._touch(version_id, at, deleted_at=at, deleted_by=actor)
        model_id: int = self._c.execute(
            select(versions.c.model_id).where(versions.c.id == version_id)
        ).scalar_one()
        for alias in self.aliases_of(version_id):
            self.delete_alias(model_id, alias, at=at, actor=actor)

    def _touch(self, version_id: int, at: datetime, **values: object) -> None:
        self._c.execute(update(versions).where(versions.c.id == version_id).values(updated_at=at, **values))

    def remember_idempotency(
        self, key: str, request_digest: str, version_id: int, *, at: datetime, forget_before: datetime
    ) -> None:
        self._c.execute(_FORGET_KEY, {"key": key})  # an expired row of this very key
        oldest = self._c.execute(_OLDEST_KEY).scalar()
        if oldest is not None and oldest < forget_before - _FORGET_SLACK:
            self._c.execute(_FORGET_EXPIRED, {"before": forget_before})
        row = {"key": key, "request_digest": request_digest, "version_id": version_id, "created_at": at}
        self._c.execute(insert(idempotency_keys).values(**row))

    # Aliases ----------------------------------------------------------------------------------------------
    def set_alias(
        self,
        model_id: int,
        alias: str,
        version_id: int,
        *,
        at: datetime,
        actor: str,
        request_id: int | None = None,
    ) -> int | None:
        previous = self._close_alias(model_id, alias, at=at, actor=actor)
        row = {
            "model_id": model_id,
            "alias": alias,
            "version_id": version_id,
            "updated_at": at,
            "updated_by": actor,
        }
        if previous is None:
            self._c.execute(insert(aliases).values(**row))
        else:
            self._c.execute(update(aliases).where(self._alias_is(model_id, alias)).values(**row))
        history = {
            "model_id": model_id,
            "alias": alias,
            "version_id": version_id,
            "valid_from": at,
            "set_by": actor,
            "request_id": request_id,
        }
        self._c.execute(insert(alias_history).values(**history))
        return previous

    def delete_alias(self, model_id: int, alias: str, *, at: datetime, actor: str) -> int | None:
        previous = self._close_alias(model_id, alias, at=at, actor=actor)
        if previous is not None:
            self._c.execute(delete(aliases).where(self._alias_is(model_id, alias)))
        return previous

    def _close_alias(self, model_id: int, alias: str, *, at: datetime, actor: str) -> int | None:
        query = select(aliases.c.version_id).where(self._alias_is(model_id, alias)).with_for_update()
        previous = self._c.execute(query).scalar()
        if previous is not None:
            open_interval = and_(
                alias_history.c.model_id == model_id,
                alias_history.c.alias == alias,
                alias_history.c.valid_to.is_(None),
            )
            self._c.execute(update(alias_history).where(open_interval).values(valid_to=at, ended_by=actor))
        return previous

    @staticmethod
    def _alias_is(model_id: int, alias: str) -> ColumnElement[bool]:
        return and_(aliases.c.model_id == model_id, aliases.c.alias == alias)

    # Audit chain ------------------------------------------------------------------------------------------
    # On PostgreSQL the chain's two round trips go through the driver's cursor: SQLAlchemy's execution
    # context costs ~80 µs a statement there, which was a third of the audit chain's share of a set_alias.
    def audit_head(self) -> tuple[int, str, datetime | None]:
        if self._dialect == "postgresql":
            row = self._on_driver(_postgres_audit_writes()[0], {})
            if row is None:
                raise StorageUnavailable("metadata database error: the audit chain's head row is missing")
            seq, head_hash, last_at = row
            last_at = None if last_at is None else last_at.astimezone(UTC)
        else:
            seq, head_hash, last_at = self._c.execute(_LOCK_AUDIT_HEAD).one()
        return int(seq), str(head_hash), last_at

    def audit_seq(self) -> int:
        return int(self._c.execute(select(audit_head.c.seq).where(audit_head.c.id == 1)).scalar_one())

    def audit_actions_after(self, seq: int, actions: Collection[str]) -> bool:
        query = select(audit_events.c.seq).where(audit_events.c.seq > seq, audit_events.c.action.in_(actions))
        return self._c.execute(query.limit(1)).first() is not None

    def append_audit(self, record: AuditRecord) -> None:
        if record.at.tzinfo is None:  # as UTCDateTime refuses one on the SQLAlchemy path
            raise ValueError("naive datetime given to the metadata store; use UTC-aware datetimes")
        values = {
            "event_seq": record.seq,
            "event_at": record.at.astimezone(UTC),
            "event_actor": record.actor,
            "event_action": record.action,
            "event_model": record.model,
            "event_target": record.target,
            "event_data": record.data_json,
            "event_prev_hash": record.prev_hash,
            "event_hash": record.hash,
        }
        if self._dialect == "postgresql":
            self._on_driver(_postgres_audit_writes()[1], values)
        else:
            self._c.execute(_APPEND_EVENT, values)
            self._c.execute(_MOVE_HEAD, values)

    # Helpers ----------------------------------------------------------------------------------------------
    def _on_driver(self, sql: str, params: dict[str, Any]) -> Any:
        """Run one statement on the DBAPI cursor, in this session's transaction; its first row, if any."""
        cursor = self._c.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, params)
            return cursor.fetchone() if cursor.description is not None else None
        except self._c.dialect.loaded_dbapi.Error as error:
            raise StorageUnavailable(f"metadata database error: {error}") from None
        finally:
            cursor.close()

    def _insert(self, table: Table) -> Any:
        """An INSERT that supports ON CONFLICT, from the session's own dialect (the other is never loaded)."""
        if self._dialect == "postgresql":
            from sqlalchemy.dialects import postgresql

            return postgresql.insert(table)
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(table)

    def _upsert_entry(
        self, table: Table, owner: str, owner_id: int, key: str, value: str, *, at: datetime
    ) -> str | None:
        where = and_(table.c[owner] == owner_id, table.c.key == key)
        previous = self._c.execute(select(table.c.value).where(where)).scalar()
        if previous is None:
            self._c.execute(insert(table).values({owner: owner_id, "key": key, "value": value}))
        else:
            self._c.execute(update(table).where(where).values(value=value))
        self._touch_owner(owner, owner_id, at)
        return previous

    def _delete_entry(self, table: Table, owner: str, owner_id: int, key: str, *, at: datetime) -> str | None:
        where = and_(table.c[owner] == owner_id, table.c.key == key)
        previous = self._c.execute(select(table.c.value).where(where)).scalar()
        if previous is not None:
            self._c.execute(delete(table).where(where))
            self._touch_owner(owner, owner_id, at)
        return previous

    def _touch_owner(self, owner: str, owner_id: int, at: datetime) -> None:
        table = models if owner == "model_id" else versions
        self._c.execute(update(table).where(table.c.id == owner_id).values(updated_at=at))
