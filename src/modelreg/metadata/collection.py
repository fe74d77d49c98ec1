"""Garbage collection's rows: the roots (chunks that versions and artifacts reference), leases, sweep rows.

The roots are the chunks of every file that a version not purged lists, deleted versions included (a soft
delete keeps the files), and of every file an artifact path points at (MLflow's artifact store). A purged
version's files are roots no more (``_ROOT``): their chunks go unless another version or an artifact shares
them; so do a deleted or replaced artifact's.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, Table, delete, exists, insert, select

from modelreg.metadata.tables import (
    audit_head,
    chunk_leases,
    chunk_sweeps,
    file_chunks,
    version_files,
    versions,
)
from modelreg.metadata.tracking_tables import artifacts

__all__ = ["CollectionRows"]

# Digests per statement. SQLite before 3.32 allows 999 bound parameters. PostgreSQL takes far more, and
# needs them: below a few million rows it answers `IN (500 digests)` with a scan of file_chunks (~18 ms for
# 80,000 rows here), so batches of 5,000 make a collection's locked decision ~5× shorter.
_BATCH = {"sqlite": 500, "postgresql": 5_000}


# The one place that says which versions' files are roots: every version not purged.
_ROOT = versions.c.purged_at.is_(None)


def _listed(file_digest: Any) -> ColumnElement[bool]:
    """Whether a root version lists the file: one indexed probe of ``version_files.file_digest``."""
    return exists(
        select(version_files.c.version_id)
        .join(versions, versions.c.id == version_files.c.version_id)
        .where(version_files.c.file_digest == file_digest, _ROOT)
    )


# The chunks of the files artifacts point at, driven from ``artifacts`` (a separate query rather than an OR
# in the versions' one, which would keep either database from planning that one as a semi-join).
_ARTIFACT_CHUNKS = (
    select(file_chunks.c.chunk_digest)
    .join(artifacts, artifacts.c.file_digest == file_chunks.c.file_digest)
    .distinct()
)


class CollectionRows:
    _c: Connection
    _insert: Callable[[Table], Any]  # SqlSession's INSERT … ON CONFLICT of its own dialect

    def lock_collection(self) -> None:
        # The audit head row: every commit locks it too (audit.record), so this orders a collection's
        # decision against every commit, and against every lease, on both databases.
        self._c.execute(select(audit_head.c.seq).where(audit_head.c.id == 1).with_for_update()).one()

    def referenced_chunks(self, digests: Collection[str] | None = None) -> set[str]:
        query = select(file_chunks.c.chunk_digest).where(_listed(file_chunks.c.file_digest)).distinct()
        found = self._digests(query, file_chunks.c.chunk_digest, digests)
        rest = None if digests is None else [digest for digest in digests if digest not in found]
        if rest == []:
            return found
        return found | self._digests(_ARTIFACT_CHUNKS, file_chunks.c.chunk_digest, rest)

    def referenced_files(self, digests: Collection[str]) -> set[str]:
        query = (
            select(version_files.c.file_digest)
            .join(versions, versions.c.id == version_files.c.version_id)
            .where(_ROOT)
        )
        listed = self._digests(query.distinct(), version_files.c.file_digest, digests)
        stored = select(artifacts.c.file_digest).distinct()
        return listed | self._digests(
            stored, artifacts.c.file_digest, [d for d in digests if d not in listed]
        )

    def leased_chunks(self, now: datetime, digests: Collection[str] | None = None) -> set[str]:
        query = select(chunk_leases.c.digest).where(chunk_leases.c.expires_at > now)
        if digests is not None and not self._c.execute(query.limit(1)).first():
            return set()  # no live lease at all, the usual case: one trivial query
        return self._digests(query, chunk_leases.c.digest, digests)

    def lease_chunks(self, digests: Collection[str], *, until: datetime) -> None:
        if not digests:
            return
        statement = self._insert(chunk_leases)
        statement = statement.on_conflict_do_update(
            index_elements=["digest"],
            set_={"expires_at": statement.excluded.expires_at},
            where=chunk_leases.c.expires_at < statement.excluded.expires_at,  # only ever extended
        )
        for batch in self._batches(sorted(digests)):  # sorted: concurrent upserts lock rows in one order
            self._c.execute(statement, [{"digest": digest, "expires_at": until} for digest in batch])

    def expire_leases(self, now: datetime) -> int:
        result = self._c.execute(delete(chunk_leases).where(chunk_leases.c.expires_at <= now))
        return int(result.rowcount)

    def chunks_under_sweep(self, digests: Collection[str] | None = None) -> set[str]:
        if digests is not None and not self._c.execute(select(chunk_sweeps.c.digest).limit(1)).first():
            return set()  # the usual case, no collection running: one trivial query
        return self._digests(select(chunk_sweeps.c.digest), chunk_sweeps.c.digest, digests)

    def start_sweep(self, digests: Collection[str], *, at: datetime) -> None:
        for batch in self._batches(sorted(digests)):
            self._c.execute(insert(chunk_sweeps), [{"digest": digest, "started_at": at} for digest in batch])

    def end_sweep(self) -> int:
        return int(self._c.execute(delete(chunk_sweeps)).rowcount)

    def _digests(self, query: Select[Any], column: Any, digests: Collection[str] | None) -> set[str]:
        if digests is None:
            return set(self._c.execute(query).scalars())
        found: set[str] = set()
        for batch in self._batches(list(digests)):
            found.update(self._c.execute(query.where(column.in_(batch))).scalars())
        return found

    def _batches(self, digests: list[str]) -> Iterator[list[str]]:
        size = _BATCH.get(self._c.dialect.name, 500)
        for start in range(0, len(digests), size):
            yield digests[start : start + size]
