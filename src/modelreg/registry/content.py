"""Content use cases, mixed into ``Registry``: what a client needs to push and pull.

    push: known_files → missing_chunks / plan_upload → put_chunks in batches (or presigned PUTs) → commit
    pull: manifest → read_chunks in batches / read_chunk (or chunk_downloads: presigned GETs)

Chunk uploads need ``version:create`` on some model (the model is checked at commit); every read is
authorised through a version the caller may pull, never by digest alone (DESIGN §3).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, cast

from modelreg.access import Permission
from modelreg.blobs import check_chunk
from modelreg.blobs.presign import PresignedRequest
from modelreg.digest import parse_digest
from modelreg.errors import ChunkNotFound, VersionDeleted, VersionPurged
from modelreg.metadata.protocol import VersionKey
from modelreg.registry import collection
from modelreg.registry.direct import download_requests, upload_plan
from modelreg.registry.manifest import ChunkRef, Manifest
from modelreg.registry.publish import Publication
from modelreg.registry.refs import model_of, parse_ref
from modelreg.types import CommitReport, ModelVersion

if TYPE_CHECKING:
    from modelreg.registry.service import Registry

__all__ = ["ContentCases"]


class ContentCases:
    """The push and pull use cases, mixed into ``Registry`` (keeping its module under 500 lines)."""

    def missing_chunks(self, digests: Sequence[str]) -> list[str]:
        """Of these chunk digests, the ones to upload before committing: those the store lacks, and those it
        holds but cannot promise to keep (being garbage collected). Every chunk not listed stays at least
        the garbage collection grace period, even if no version references it yet."""
        registry = _registry(self)
        registry.actor.require_somewhere(Permission.VERSION_CREATE)  # the model is checked at commit
        wanted = [parse_digest(d) for d in dict.fromkeys(digests)]
        missing: set[str] = set(registry.chunks.missing(wanted))
        missing |= collection.unpromised(registry, [d for d in wanted if d not in missing])
        return [d for d in wanted if d in missing]

    def put_chunk(self, digest: str, data: bytes | memoryview) -> bool:
        """Store one chunk after verifying its sha256; True when its bytes were new."""
        return self.put_chunks([(digest, data)])[0]

    def put_chunks(self, chunks: Sequence[tuple[str, bytes | memoryview]]) -> list[bool]:
        """Store several chunks, (digest, bytes) each: a push's batch. True for each whose bytes were new.

        All or nothing on bad input: every digest is parsed and every chunk verified against its sha256
        (``DigestMismatch`` names the first that fails) before any is stored. The embedded SDK
        (``verify_chunks`` off) hashed the bytes an instant ago in this process, so there they are not
        hashed again (that would be a third sha256 pass over every pushed byte); a server always verifies."""
        registry = _registry(self)
        registry.actor.require_somewhere(Permission.VERSION_CREATE)
        wanted = [(parse_digest(digest), data) for digest, data in chunks]
        if registry.verify_chunks:
            for digest, data in wanted:
                check_chunk(digest, data, stored=False)
        return [registry.chunks.put(digest, data, verified=True) for digest, data in wanted]

    def known_files(self, digests: Sequence[str]) -> dict[str, list[tuple[str, int]]]:
        """Whole-file digests already stored → their chunk lists: such files need no chunking or upload.

        Only files a version lists are answered: their chunks are garbage collection roots, so the answer
        needs no lease, and a push uses the chunk lists without asking about the chunks; the commit checks
        that each is stored (a lost one fails it: the client uploads it again and retries)."""
        registry = _registry(self)
        registry.actor.require_somewhere(Permission.VERSION_CREATE)
        wanted = [parse_digest(d) for d in dict.fromkeys(digests)]
        with registry.metadata.session() as session:
            found = session.known_files(wanted)
            listed = session.referenced_files(list(found)) if found else set()
        return {
            digest: [(d, s) for d, s in Publication.chunks_of(text)]
            for digest, text in found.items()
            if digest in listed
        }

    def commit_version(self, name: str, manifest: Manifest, **metadata: Any) -> ModelVersion:
        """Register a version whose chunks are all stored. See ``Publication`` for the accepted metadata."""
        registry = _registry(self)
        return registry.commit(name, manifest, **metadata).version

    def commit(self, name: str, manifest: Manifest, **metadata: Any) -> CommitReport:
        """``commit_version``, also reporting the bytes the version added to storage and those it shared.

        ``version=N`` registers it as number N instead of the next one (imports: ``version:import``; N must
        be above every number the model has had, else ``VersionExists``)."""
        registry = _registry(self)
        registry.actor.require(Permission.VERSION_CREATE, model=name)
        publication = Publication.prepare(registry, name, manifest, **metadata)
        return publication.commit()

    def manifest(self, ref: str) -> tuple[ModelVersion, Manifest]:
        """The version and its manifest, for a pull (audited for production versions when configured)."""
        registry = _registry(self)
        version, manifest = registry._content(ref)
        if registry.audit_production_pulls and version.stage == "production":
            with registry.metadata.session(write=True) as session:
                now = registry._now()
                target = f"{version.name}/{version.version}"
                digest = version.digest
                registry._audit(session, now, "registry:version:pull", version.name, target, digest=digest)
        return version, manifest

    def _content(self, ref: str) -> tuple[ModelVersion, Manifest]:
        """Deleted and purged versions have no content to pull."""
        registry = _registry(self)
        registry.actor.require(Permission.VERSION_PULL, model=model_of(ref))
        with registry.metadata.session() as session:
            key = registry._key(session, parse_ref(ref))
            _check_content(key, parse_ref(ref).name)
            version = session.version(key.version_id)
            manifest = Manifest.from_json(_loads(session.manifest_json(key.version_id)))
        return version, manifest

    def read_chunk(self, ref: str, digest: str) -> bytes:
        """A chunk's verified bytes, authorised through a version that holds it (never by digest alone)."""
        registry = _registry(self)
        wanted = parse_digest(digest)
        where, sizes = self._chunk_sizes(ref, [wanted])
        if wanted not in sizes:
            raise ChunkNotFound(f"chunk {wanted} is not part of {where}")
        return registry.chunks.get(wanted)

    def read_chunks(self, ref: str, chunks: Sequence[ChunkRef]) -> Iterator[bytes]:
        """The verified bytes of these chunks of the version, in the order given (a pull's batch).

        Checked before anything is read: the caller may pull the version, it is neither deleted nor purged
        (a version deleted during a pull fails the pull's next batch), and each chunk is one of its chunks
        with the size given (``ChunkNotFound`` otherwise). The bytes are read and verified lazily, one chunk
        at a time, as the iterator is consumed."""
        registry = _registry(self)
        wanted = [ChunkRef(parse_digest(chunk.digest), chunk.size) for chunk in chunks]
        where, sizes = self._chunk_sizes(ref, list(dict.fromkeys(chunk.digest for chunk in wanted)))
        for chunk in wanted:
            if sizes.get(chunk.digest) != chunk.size:
                raise ChunkNotFound(f"chunk {chunk.digest} of {chunk.size} bytes is not part of {where}")
        return (registry.chunks.get(chunk.digest) for chunk in wanted)

    def _chunk_sizes(self, ref: str, digests: Sequence[str]) -> tuple[str, dict[str, int]]:
        """The version as ``name/N``, and of these digests its chunks → their sizes (for a readable version
        the caller may pull)."""
        registry = _registry(self)
        registry.actor.require(Permission.VERSION_PULL, model=model_of(ref))
        parsed = parse_ref(ref)
        with registry.metadata.session() as session:
            key = registry._key(session, parsed)
            _check_content(key, parsed.name)
            return f"{parsed.name}/{key.number}", session.version_chunk_sizes(key.version_id, digests)

    def plan_upload(self, digests: Sequence[str]) -> tuple[list[str], dict[str, PresignedRequest]]:
        """``missing_chunks``, plus a presigned PUT per missing chunk with direct transfers (else none)."""
        return upload_plan(_registry(self), digests)

    def chunk_downloads(self, ref: str, digests: Sequence[str]) -> dict[str, PresignedRequest]:
        """A presigned GET per chunk of a version the caller may pull; none without direct transfers."""
        return download_requests(_registry(self), ref, digests)


def _registry(cases: ContentCases) -> Registry:
    return cast("Registry", cases)


def _check_content(key: VersionKey, name: str) -> None:
    """Only a version that is neither purged nor deleted has content to read."""
    if key.purged:
        raise VersionPurged(f"version {key.number} of model {name!r} is purged: its files are gone")
    if key.deleted:
        raise VersionDeleted(f"version {key.number} of model {name!r} is deleted")


def _loads(text: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(text)
    return document
