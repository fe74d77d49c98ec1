"""Copying a registry's metadata database to another, row for row (``modelreg migrate``).

Generic over the schema: every table of ``tables.metadata`` is copied in foreign-key order
(``sorted_tables``) with its primary keys, in primary-key-ordered batches, so a table a later migration adds
is copied without a change here. Rows are copied as they are, never through the use cases: no audit event
is added and the hash chain stays the source's.

    source (one read transaction: a consistent snapshot)
      └─ per table, per batch of N rows by primary key ─► target: INSERT … ON CONFLICT (pk) DO UPDATE
                                                          (only when a column differs), one transaction each

Resuming is re-running: a batch the target already holds changes nothing, a row the source changed since
is updated. The audit chain is append-only, so its rows are only inserted, never overwritten. A row of
another registry conflicts on a unique key (a model name, a version number) and surfaces as
``RegistryMismatch``; the registry identity check (the first audit event) refuses most such targets first.

The tracking tables (``tracking_tables``: experiments, runs, logged models, artifacts) are part of
``tables.metadata`` and copied like the others; the target's own experiment "0", made by its migration,
is overwritten with the source's. Artifacts' chunks are garbage collection roots (``referenced_chunks``),
so ``registry.migration`` copies and verifies them with the versions' chunks.

Not copied: ``chunk_sweeps`` (a garbage collection in progress on the source's chunk store; meaningless
for the target's). Leases are copied: harmless promises that only delay a collection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, Table, func, or_, select, text, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError as SqlIntegrityError
from sqlalchemy.exc import SQLAlchemyError

from modelreg.errors import RegistryMismatch, SchemaMismatch, StorageUnavailable
from modelreg.metadata.engine import HEAD, current_revision, make_engine
from modelreg.metadata.tables import (
    audit_events,
    file_chunks,
    files,
    metadata,
    models,
    version_files,
    versions,
)

__all__ = ["COPIED_TABLES", "MetadataCopy", "VersionRows", "check_revision"]

COPIED_TABLES: tuple[Table, ...] = tuple(t for t in metadata.sorted_tables if t.name != "chunk_sweeps")
_APPEND_ONLY = {"audit_events"}  # never overwritten: a differing row is the verification's to report

# (version id, model name, number, digest, manifest JSON, [(path, file digest, size)], {file digest: chunks})
VersionRows = tuple[int, str, int, str, str, list[tuple[str, str, int]], dict[str, str]]


def check_revision(engine: Engine, *, role: str, empty_ok: bool) -> None:
    """Refuse a database at another schema revision than this modelreg's (``HEAD``); an empty one (no
    schema yet) only when ``empty_ok`` (a target: Alembic then builds it)."""
    with _errors():
        revision = current_revision(engine)
    if revision == HEAD or (revision is None and empty_ok):
        return
    if revision is None:
        raise SchemaMismatch(f"the {role} database holds no modelreg registry (no schema revision)")
    known = [f"{number:04d}" for number in range(1, int(HEAD) + 1)] if HEAD.isdigit() else [HEAD]
    if role == "target" and revision in known:
        return  # an older schema of ours: opening it upgrades it, as any modelreg command would
    hint = "upgrade modelreg" if revision not in known else "open it with this modelreg once to upgrade it"
    raise SchemaMismatch(
        f"the {role} database is at schema revision {revision}; this modelreg is at {HEAD} ({hint})",
        details={"role": role, "revision": revision, "expected": HEAD},
    )


class MetadataCopy:
    """Row copies and row reads between two metadata databases, for ``registry.migration``."""

    def __init__(self, source_url: str, target_url: str) -> None:
        self._source = make_engine(source_url)
        self._target = make_engine(target_url)

    def close(self) -> None:
        self._source.dispose()
        self._target.dispose()

    def check_revisions(self) -> None:
        with _errors():
            check_revision(self._source, role="source", empty_ok=False)
            check_revision(self._target, role="target", empty_ok=False)

    def first_events(self) -> tuple[str | None, str | None]:
        """The hash of audit event 1 in the source and the target: the registry's identity."""
        query = select(audit_events.c.hash).where(audit_events.c.seq == 1)
        with _errors(), self._source.connect() as source, self._target.connect() as target:
            return source.execute(query).scalar(), target.execute(query).scalar()

    def target_has_models(self) -> bool:
        with _errors(), self._target.connect() as target:
            return target.execute(select(models.c.id).limit(1)).first() is not None

    def copy_tables(self, *, batch_size: int, progress: Callable[[str, int], None]) -> int:
        """Copy every table; returns the rows read. ``progress(table, rows)`` after each batch (it may raise
        to stop: every batch written so far stays, and a later run resumes after it)."""
        copied = 0
        with _errors(), self._source.connect() as source, _snapshot(source):
            for table in COPIED_TABLES:
                for batch in _batches(source, table, batch_size):
                    self._write(table, batch)
                    copied += len(batch)
                    progress(table.name, len(batch))
        if self._target.dialect.name == "postgresql":
            self._reset_sequences()
        return copied

    def counts(self) -> list[tuple[str, int, int]]:
        """(table, source rows, target rows) for every copied table."""
        with _errors(), self._source.connect() as source, self._target.connect() as target:
            return [(t.name, _count(source, t), _count(target, t)) for t in COPIED_TABLES]

    def last_events(self) -> tuple[tuple[int, str] | None, tuple[int, str] | None]:
        """(seq, hash) of the last audit event in the source and the target."""
        query = select(audit_events.c.seq, audit_events.c.hash).order_by(audit_events.c.seq.desc()).limit(1)
        with _errors(), self._source.connect() as source, self._target.connect() as target:
            first, second = source.execute(query).first(), target.execute(query).first()
        return (
            None if first is None else (first[0], first[1]),
            None if second is None else (second[0], second[1]),
        )

    def chunk_sizes(self, digests: set[str]) -> dict[str, int]:
        """Size of each of these chunks, from the source's ``file_chunks`` (one pass over the table)."""
        query = select(file_chunks.c.chunk_digest, file_chunks.c.size).distinct()
        with _errors(), self._source.connect() as source:
            return {digest: size for digest, size in source.execute(query) if digest in digests}

    def target_versions(self, *, batch_size: int) -> Iterator[list[VersionRows]]:
        """The target's versions with their file rows and chunk lists, in id order, a batch at a time."""
        with _errors(), self._target.connect() as target:
            last = 0
            while True:
                rows = target.execute(
                    select(
                        versions.c.id,
                        models.c.name,
                        versions.c.number,
                        versions.c.digest,
                        versions.c.manifest,
                    )
                    .join(models, models.c.id == versions.c.model_id)
                    .where(versions.c.id > last)
                    .order_by(versions.c.id)
                    .limit(batch_size)
                ).all()
                if not rows:
                    return
                last = rows[-1][0]
                yield _with_files(target, [tuple(row) for row in rows])

    def _write(self, table: Table, rows: list[dict[str, Any]]) -> None:
        try:
            with self._target.begin() as target:
                target.execute(_upsert(target, table), rows)
        except SqlIntegrityError as error:
            raise RegistryMismatch(
                f"the target holds another registry: a row of table {table.name!r} conflicts with the "
                f"source's ({error.orig})",
                details={"table": table.name},
            ) from None

    def _reset_sequences(self) -> None:
        """Rows went in with their ids, which PostgreSQL's sequences did not see: move each past them."""
        with _errors(), self._target.begin() as target:
            for table in COPIED_TABLES:
                column = table.autoincrement_column
                if column is None:
                    continue
                target.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence(:table, :column), "  # noqa: S608 - names from our schema
                        f'COALESCE((SELECT MAX("{column.name}") FROM "{table.name}"), 0) + 1, false)'
                    ),
                    {"table": table.name, "column": column.name},
                )


def _batches(source: Connection, table: Table, size: int) -> Iterator[list[dict[str, Any]]]:
    """The table's rows in primary-key order, ``size`` at a time (keyset paging: no OFFSET scans)."""
    key = list(table.primary_key.columns)
    last: tuple[Any, ...] | None = None
    while True:
        query = select(table).order_by(*key).limit(size)
        if last is not None:
            query = query.where(tuple_(*key) > tuple_(*last) if len(key) > 1 else key[0] > last[0])
        rows = [dict(row._mapping) for row in source.execute(query)]
        if not rows:
            return
        last = tuple(rows[-1][column.name] for column in key)
        yield rows


def _upsert(connection: Connection, table: Table) -> Any:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table)
    key = [column.name for column in table.primary_key.columns]
    others = [column for column in table.columns if column.name not in key]
    if not others or table.name in _APPEND_ONLY:
        return statement.on_conflict_do_nothing(index_elements=key)
    return statement.on_conflict_do_update(
        index_elements=key,
        set_={column.name: statement.excluded[column.name] for column in others},
        where=or_(*(column.is_distinct_from(statement.excluded[column.name]) for column in others)),
    )


def _with_files(connection: Connection, rows: list[tuple[Any, ...]]) -> list[VersionRows]:
    ids = [row[0] for row in rows]
    listed: dict[int, list[tuple[str, str, int]]] = {version_id: [] for version_id in ids}
    query = select(
        version_files.c.version_id, version_files.c.path, version_files.c.file_digest, version_files.c.size
    )
    for version_id, path, digest, size in connection.execute(
        query.where(version_files.c.version_id.in_(ids))
    ):
        listed[version_id].append((path, digest, size))
    wanted = sorted({digest for entries in listed.values() for _, digest, _ in entries})
    chunks: dict[str, str] = {}
    for start in range(0, len(wanted), 500):
        batch = wanted[start : start + 500]
        query = select(files.c.digest, files.c.chunks).where(files.c.digest.in_(batch))
        for row in connection.execute(query):
            chunks[str(row[0])] = str(row[1])
    return [
        (
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            listed[row[0]],
            {d: chunks.get(d, "null") for _, d, _ in listed[row[0]]},
        )
        for row in rows
    ]


def _count(connection: Connection, table: Table) -> int:
    return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


@contextmanager
def _snapshot(source: Connection) -> Iterator[None]:
    """One read transaction over the whole copy: every table as of one moment, so foreign keys hold."""
    if source.dialect.name == "postgresql":
        source.execution_options(isolation_level="REPEATABLE READ")
    with source.begin():
        yield


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except SQLAlchemyError as error:
        raise StorageUnavailable(f"metadata database error during the migration: {error}") from None
