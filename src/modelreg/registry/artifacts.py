"""Artifact use cases, mixed into ``Registry``: files stored by path (MLflow's artifact store), in chunks.

Paths are relative manifest paths (``registry.manifest.check_path``) whose first segment is an experiment id
in decimal: ``3/<run id>/artifacts/model.pkl``, ``3/models/<model id>/artifacts/MLmodel``. Content is cut
into content-defined chunks as it streams in (``artifact_stream``) and stored once in the chunk store, like
a version's files: an artifact logged twice, or pushed as a version later, costs no second copy.

    put: stream → chunks hashed and stored (new ones only) → one transaction: the file's rows, the path, the
         audit event, then ``collection.check_commit`` (no garbage collection took a chunk meanwhile)
    open: the row → chunks read ahead, each verified, then the whole file's sha256 (``CorruptFile``)

An artifact's chunks are garbage collection roots for as long as a path points at the file. Reads need
``tracking:read``, writes ``tracking:write``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, cast

from modelreg.access import Permission
from modelreg.digest import Digest
from modelreg.errors import ArtifactNotFound, ExperimentNotFound, InvalidPath
from modelreg.metadata.protocol import MetadataSession, NewFile
from modelreg.metadata.tracking_protocol import StoredArtifact
from modelreg.registry import collection
from modelreg.registry.artifact_stream import Piece, store_stream, verified_chunks
from modelreg.registry.manifest import ChunkRef, FileRecord, Manifest, canonical_json, check_path
from modelreg.types import ArtifactEntry

if TYPE_CHECKING:
    from modelreg.registry.service import Registry

__all__ = ["ArtifactCases", "check_artifact_path"]

_EXPERIMENT = re.compile(r"0|[1-9][0-9]{0,17}")  # a canonical experiment id: one spelling per experiment
_MAX_TARGET = 512  # audit_events.target


def check_artifact_path(path: object, *, file: bool) -> str:
    """A valid relative path under an experiment id; a file's has at least one segment after the id."""
    checked = check_path(path)
    segments = checked.split("/")
    if not _EXPERIMENT.fullmatch(segments[0]):
        raise InvalidPath(
            f"invalid artifact path {checked[:200]!r}: it must start with an experiment id, e.g. '0/…'"
        )
    if file and len(segments) < 2:
        raise InvalidPath(f"invalid artifact path {checked!r}: a file needs a name under the experiment id")
    return checked


class ArtifactCases:
    """put, open, list and delete artifacts (``registry.artifacts``)."""

    def put_artifact(self, path: str, chunks: Iterable[bytes]) -> ArtifactEntry:
        """Store a file from its content in pieces of any size, replacing any file at ``path``.

        Raises ``ChunkBeingCollected`` (503, retryable) in the rare case a garbage collection deleted one
        of its chunks while it streamed: the content is not kept, so the caller sends it again."""
        registry = _registry(self)
        registry.actor.require(Permission.TRACKING_WRITE)
        path = check_artifact_path(path, file=True)
        with registry.metadata.session() as session:
            _check_target(session, path)
            # Read before any chunk is found present: a collection recorded after it may have deleted one.
            since = session.audit_seq()
        digest, size, stored = store_stream(registry.chunks, cast("Iterable[Piece]", chunks))
        content = NewFile(digest, size, canonical_json([[d, s] for d, s in stored]).decode())
        with registry.metadata.session(write=True) as session:
            _check_target(session, path)  # again: another put may have made it a directory meanwhile
            now = registry._now()
            before = session.put_artifact(path, content, at=now, actor=registry.actor.name)
            data = {"path": path, "digest": digest, "size": size, "before": before}
            registry._audit(session, now, "tracking:artifact:put", None, _target(path), **data)
            collection.check_commit(registry, session, {d for d, _ in stored}, since=since)
        return ArtifactEntry(path, False, size, digest)

    def open_artifact(self, path: str) -> tuple[ArtifactEntry, Iterator[bytes]]:
        """The file's entry and its bytes, streamed and verified (``CorruptFile`` on any mismatch)."""
        registry = _registry(self)
        registry.actor.require(Permission.TRACKING_READ)
        path = check_artifact_path(path, file=True)
        with registry.metadata.session() as session:
            stored = session.artifact(path)
        if stored is None:
            raise ArtifactNotFound(f"artifact {path!r} not found")
        entry = stored.entry
        assert entry.digest is not None  # a file's entry always has one
        return entry, verified_chunks(registry.chunks, path, entry.digest, _chunks(stored))

    def list_artifacts(self, path: str = "") -> list[ArtifactEntry]:
        """The files and directories one level under ``path`` ('' for the experiments), by path."""
        registry = _registry(self)
        registry.actor.require(Permission.TRACKING_READ)
        prefix = "" if path == "" else check_artifact_path(path, file=False)
        with registry.metadata.session() as session:
            return session.list_artifacts(prefix)

    def delete_artifact(self, path: str) -> int:
        """Delete a file, or every file under a directory; how many were deleted (0: nothing there, and
        nothing recorded). Their chunks become garbage unless something else references them."""
        registry = _registry(self)
        registry.actor.require(Permission.TRACKING_WRITE)
        path = check_artifact_path(path, file=False)
        with registry.metadata.session(write=True) as session:
            removed = session.delete_artifacts(path)
            if removed:
                now = registry._now()
                registry._audit(
                    session,
                    now,
                    "tracking:artifact:delete",
                    None,
                    _target(path),
                    path=path,
                    files=len(removed),
                )
        return len(removed)

    def artifact_manifest(self, prefix: str) -> Manifest:
        """Every file under ``prefix`` as a manifest, paths relative to it (a file alone: its own name), so
        that ``Registry.commit`` can register it as a version without moving a byte."""
        registry = _registry(self)
        registry.actor.require(Permission.TRACKING_READ)
        prefix = check_artifact_path(prefix, file=False)
        with registry.metadata.session() as session:
            single = session.artifact(prefix)
            found = [single] if single is not None else session.artifact_files(prefix)
        if not found:
            raise ArtifactNotFound(f"no artifact under {prefix!r}")
        cut = len(prefix) - len(prefix.rsplit("/", 1)[-1]) if single is not None else len(prefix) + 1
        return Manifest.build(_record(stored, stored.entry.path[cut:]) for stored in found)


def _registry(cases: ArtifactCases) -> Registry:
    return cast("Registry", cases)


def _check_target(session: MetadataSession, path: str) -> None:
    if session.experiment(int(path.split("/", 1)[0])) is None:
        raise ExperimentNotFound(
            f"experiment {path.split('/', 1)[0]} not found: create it before its artifacts"
        )
    clash = session.artifact_clash(path)
    if clash is not None:
        raise InvalidPath(
            f"artifact path {path!r} clashes with the stored {clash!r}: a path cannot be both a file and a "
            "directory",
            details={"path": path, "existing": clash},
        )


def _target(path: str) -> str:
    label = f"artifact/{path}"
    return label if len(label) <= _MAX_TARGET else label[: _MAX_TARGET - 1] + "…"


def _chunks(stored: StoredArtifact) -> list[tuple[str, int]]:
    return [(digest, size) for digest, size in json.loads(stored.chunks_json)]


def _record(stored: StoredArtifact, path: str) -> FileRecord:
    entry = stored.entry
    assert entry.size is not None and entry.digest is not None
    chunks = tuple(ChunkRef(Digest(digest), size) for digest, size in _chunks(stored))
    return FileRecord(path=path, size=entry.size, digest=Digest(entry.digest), chunks=chunks)
