"""Artifact rows: files stored by path, each a file of the ``files`` table (its chunks).

A directory is every path under ``prefix + '/'``: the range ``[prefix + '/', prefix + '0')`` of the primary
key, since '0' is the character after '/' (the column compares bytes on both databases; see
``tracking_tables.ARTIFACT_PATH``). So listing, collecting and deleting a directory are index range scans,
and a listing groups the range by its next path segment in SQL, returning one row per child.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, and_, case, delete, func, or_, select

from modelreg.metadata.protocol import NewFile
from modelreg.metadata.tables import file_chunks, files
from modelreg.metadata.tracking_protocol import StoredArtifact
from modelreg.metadata.tracking_tables import artifacts
from modelreg.types import ArtifactEntry

__all__ = ["ArtifactRows"]

_ROW = select(artifacts.c.path, artifacts.c.size, artifacts.c.file_digest, files.c.chunks).join(
    files, files.c.digest == artifacts.c.file_digest
)


def _under(prefix: str) -> ColumnElement[bool]:
    """Every path inside the directory ``prefix`` (an index range scan)."""
    return and_(artifacts.c.path >= prefix + "/", artifacts.c.path < prefix + "0")


class ArtifactRows:
    _c: Connection
    _insert: Callable[[Table], Any]

    def artifact(self, path: str) -> StoredArtifact | None:
        row = self._c.execute(_ROW.where(artifacts.c.path == path)).first()
        return None if row is None else _stored(row)

    def artifact_clash(self, path: str) -> str | None:
        parts = path.split("/")
        directories = ["/".join(parts[:depth]) for depth in range(1, len(parts))]
        query = select(artifacts.c.path).where(or_(artifacts.c.path.in_(directories), _under(path)))
        return self._c.execute(query.limit(1)).scalar()

    def put_artifact(self, path: str, content: NewFile, *, at: datetime, actor: str) -> str | None:
        self._record_file(content, at)
        previous: str | None = self._c.execute(
            select(artifacts.c.file_digest).where(artifacts.c.path == path)
        ).scalar()
        statement = self._insert(artifacts)
        columns = ("file_digest", "size", "created_at", "created_by")
        statement = statement.on_conflict_do_update(
            index_elements=["path"], set_={column: statement.excluded[column] for column in columns}
        )
        row = {
            "path": path,
            "file_digest": content.digest,
            "size": content.size,
            "created_at": at,
            "created_by": actor,
        }
        self._c.execute(statement, row)
        return previous

    def list_artifacts(self, prefix: str) -> list[ArtifactEntry]:
        start = prefix + "/" if prefix else ""
        rest = func.substr(artifacts.c.path, len(start) + 1)
        slash = func.strpos(rest, "/") if self._c.dialect.name == "postgresql" else func.instr(rest, "/")
        child = case((slash == 0, rest), else_=func.substr(rest, 1, slash - 1))
        query = select(child, func.max(slash), func.max(artifacts.c.size), func.max(artifacts.c.file_digest))
        if prefix:
            query = query.where(_under(prefix))
        entries = [
            ArtifactEntry(start + name, True, None, None)
            if deep
            else ArtifactEntry(start + name, False, int(size), digest)
            for name, deep, size, digest in self._c.execute(query.group_by(child))
        ]
        return sorted(entries, key=lambda entry: entry.path)

    def artifact_files(self, prefix: str) -> list[StoredArtifact]:
        query = _ROW.where(_under(prefix)).order_by(artifacts.c.path)
        return [_stored(row) for row in self._c.execute(query)]

    def delete_artifacts(self, path: str) -> list[str]:
        where = or_(artifacts.c.path == path, _under(path))
        return sorted(self._c.execute(delete(artifacts).where(where).returning(artifacts.c.path)).scalars())

    def _record_file(self, content: NewFile, at: datetime) -> None:
        """The content's ``files`` and ``file_chunks`` rows, unless known: written only once every chunk is
        stored (the caller stored them), as for a version's files, so a push may reuse them."""
        row = {
            "digest": content.digest,
            "size": content.size,
            "chunks": content.chunks_json,
            "created_at": at,
        }
        inserted = self._c.execute(
            self._insert(files)
            .values(**row)
            .on_conflict_do_nothing(index_elements=["digest"])
            .returning(files.c.digest)
        ).scalar()
        chunks = json.loads(content.chunks_json)
        if inserted is None or not chunks:
            return
        rows = [
            {"file_digest": content.digest, "seq": seq, "chunk_digest": chunk, "size": size}
            for seq, (chunk, size) in enumerate(chunks)
        ]
        self._c.execute(
            self._insert(file_chunks).on_conflict_do_nothing(index_elements=["file_digest", "seq"]), rows
        )


def _stored(row: Any) -> StoredArtifact:
    path, size, digest, chunks_json = row
    return StoredArtifact(ArtifactEntry(path, False, int(size), digest), chunks_json)
