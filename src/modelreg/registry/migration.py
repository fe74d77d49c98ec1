"""Moving a whole registry to other stores (``modelreg migrate``): chunks, then metadata, then a proof.

    1 refuse: either database at another schema revision; a target holding another registry
      (its first audit event differs from the source's, or it has models and no events)
    2 chunks: every chunk a version references (the source's garbage-collection roots), that the target
      store lacks, read from the source (verified) and written to the target (verified on put), in parallel
    3 metadata: every table, row for row (``metadata.copy``): no use case runs, no audit event is added
    4 verify the target: rows per table equal the source's; each version's manifest hashes to its digest
      and lists exactly its file rows and their chunk lists; every referenced chunk is present with its
      size (and, by default, re-read and re-hashed); the audit chain verifies and ends where the source's does

Chunks go first so the target never holds a version whose chunks it lacks. Only referenced chunks are
copied: chunks no version references (an interrupted push's uploads, garbage awaiting collection) are left
behind, so a migration also compacts the store.

Resuming is running again: chunks the target holds are skipped (one ``missing`` query per batch) and rows
it holds are rewritten only if they differ. The source should not change during a migration (stop writers,
or run it again afterwards: the verification reports what differs).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from modelreg.blobs.protocol import ChunkStore
from modelreg.digest import Digest, sha256_bytes
from modelreg.errors import ChunkNotFound, IntegrityError, InvalidInput, RegistryMismatch
from modelreg.metadata.protocol import MetadataStore
from modelreg.registry.audit import verify_chain
from modelreg.registry.manifest import Manifest
from modelreg.types import MigrationReport, TableCount

__all__ = ["MetadataCopier", "Migration", "Progress", "check_batch_size"]

# ("total", bytes of every referenced chunk) once, then ("scanned", bytes checked in the target) and
# ("copied", bytes written) while chunks are copied, ("rows", n) per row batch, ("verified", n) versions.
Progress = Callable[[str, int], None]
_CHUNK_BATCH = 1_000  # digests per missing() query and per parallel round
_MAX_PROBLEMS = 50  # listed in the report; the count says how many more
_AUDIT_PAGE = 1_000

# (version id, model, number, digest, manifest JSON, [(path, file digest, size)], {file digest: chunks JSON})
VersionRows = tuple[int, str, int, str, str, list[tuple[str, str, int]], dict[str, str]]


class MetadataCopier(Protocol):
    """What the migration needs of the two databases (``metadata.copy.MetadataCopy``)."""

    def check_revisions(self) -> None: ...
    def first_events(self) -> tuple[str | None, str | None]: ...
    def target_has_models(self) -> bool: ...
    def copy_tables(self, *, batch_size: int, progress: Callable[[str, int], None]) -> int: ...
    def counts(self) -> list[tuple[str, int, int]]: ...
    def last_events(self) -> tuple[tuple[int, str] | None, tuple[int, str] | None]: ...
    def chunk_sizes(self, digests: set[str]) -> dict[str, int]: ...
    def target_versions(self, *, batch_size: int) -> Iterator[list[VersionRows]]: ...


@dataclass
class Migration:
    """One run. ``source``/``target`` stores are opened by the composition root (``connection.py``)."""

    copier: MetadataCopier
    source_metadata: MetadataStore
    source_chunks: ChunkStore
    target_metadata: MetadataStore
    target_chunks: ChunkStore
    batch_size: int = 1_000
    workers: int = 8
    verify_content: bool = True
    progress: Progress | None = None
    _problems: list[str] = field(default_factory=list, init=False, repr=False)

    def run(self) -> MigrationReport:
        check_batch_size(self.batch_size)
        started = time.perf_counter()
        self.copier.check_revisions()
        self._check_identity()
        sizes = self._referenced()
        present, copied, nbytes = self._copy_chunks(sizes)
        rows = self.copier.copy_tables(
            batch_size=self.batch_size, progress=lambda _t, n: self._tick("rows", n)
        )
        tables = tuple(TableCount(*entry) for entry in self.copier.counts())
        versions = self._verify_versions()
        self._verify_chunks(sizes)
        events = self._verify_audit()
        for table in tables:
            if table.source_rows != table.target_rows:
                self._problem(
                    f"table {table.table}: {table.source_rows} rows in the source, "
                    f"{table.target_rows} in the target"
                )
        return MigrationReport(
            source=f"{_without_password(self.source_metadata.url)} + {self.source_chunks.url}",
            target=f"{_without_password(self.target_metadata.url)} + {self.target_chunks.url}",
            tables=tables,
            rows_read=rows,
            chunks_referenced=len(sizes),
            chunks_present=present,
            chunks_copied=copied,
            bytes_copied=nbytes,
            versions_verified=versions,
            audit_events=events,
            content_verified=self.verify_content,
            problems=tuple(self._problems[:_MAX_PROBLEMS])
            + (
                (f"… and {len(self._problems) - _MAX_PROBLEMS} more",)
                if len(self._problems) > _MAX_PROBLEMS
                else ()
            ),
            seconds=time.perf_counter() - started,
        )

    # 1 --------------------------------------------------------------------------------------------------
    def _check_identity(self) -> None:
        source, target = self.copier.first_events()
        if target is None and not self.copier.target_has_models():
            return  # an empty target
        if source is None or target != source:
            raise RegistryMismatch(
                "the target holds another registry (its first audit event differs from the source's); "
                "migrate into an empty database, or resume into the one an earlier run filled"
            )

    # 2 --------------------------------------------------------------------------------------------------
    def _referenced(self) -> dict[str, int]:
        with self.source_metadata.session() as session:
            referenced = session.referenced_chunks()
        return self.copier.chunk_sizes(referenced)

    def _copy_chunks(self, sizes: dict[str, int]) -> tuple[int, int, int]:
        """(chunks the target already held, chunks copied, bytes copied)."""
        present = copied = nbytes = 0
        digests = sorted(sizes)
        self._tick("total", sum(sizes.values()))
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="modelreg-migrate") as pool:
            for start in range(0, len(digests), _CHUNK_BATCH):
                batch = [Digest(digest) for digest in digests[start : start + _CHUNK_BATCH]]
                missing = sorted(self.target_chunks.missing(batch))
                present += len(batch) - len(missing)
                for written in pool.map(self._copy_chunk, missing):
                    if written is not None:
                        copied, nbytes = copied + 1, nbytes + written
                        self._tick("copied", written)
                self._tick("scanned", sum(sizes[digest] for digest in batch))
        return present, copied, nbytes

    def _copy_chunk(self, digest: Digest) -> int | None:
        """Copy one chunk (the source verifies it on read, the target on put); its size, or None if the
        source lacks it (lost data: reported, the others still copied)."""
        try:
            data = self.source_chunks.get(digest)
        except (ChunkNotFound, IntegrityError) as error:
            self._problem(f"chunk {digest} cannot be read from the source: {error}")
            return None
        self.target_chunks.put(digest, data)
        return len(data)

    # 4 --------------------------------------------------------------------------------------------------
    def _verify_versions(self) -> int:
        count = 0
        for batch in self.copier.target_versions(batch_size=self.batch_size):
            for rows in batch:
                self._verify_version(rows)
            count += len(batch)
            self._tick("verified", len(batch))
        return count

    def _verify_version(self, rows: VersionRows) -> None:
        _, model, number, digest, manifest_json, files, chunk_lists = rows
        label = f"{model}/{number}"
        try:
            manifest = Manifest.from_json(json.loads(manifest_json))
        except (ValueError, InvalidInput) as error:
            self._problem(f"{label}: its manifest does not parse: {error}")
            return
        if sha256_bytes(manifest_json.encode()) != digest or manifest.digest != digest:
            self._problem(f"{label}: its manifest does not hash to its digest {digest}")
        listed = sorted((record.path, record.digest, record.size) for record in manifest.files)
        if listed != sorted(files):
            self._problem(f"{label}: its file rows differ from its manifest")
        for record in manifest.files:
            chunks = [[chunk.digest, chunk.size] for chunk in record.chunks]
            if json.loads(chunk_lists.get(record.digest, "null")) != chunks:
                self._problem(f"{label}: the chunk list of {record.path!r} differs from its manifest")

    def _verify_chunks(self, sizes: dict[str, int]) -> None:
        with self.target_metadata.session() as session:
            referenced = session.referenced_chunks()
        if referenced != set(sizes):
            self._problem(f"the target references {len(referenced)} chunks, the source {len(sizes)}")
        digests = sorted(sizes)
        check = self._check_content if self.verify_content else self._check_size
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="modelreg-verify") as pool:
            for start in range(0, len(digests), _CHUNK_BATCH):
                batch = [Digest(digest) for digest in digests[start : start + _CHUNK_BATCH]]
                missing = self.target_chunks.missing(batch)
                for digest in sorted(missing):
                    self._problem(f"chunk {digest} is missing from the target store")
                present = [(digest, sizes[digest]) for digest in batch if digest not in missing]
                list(pool.map(check, present))

    def _check_content(self, entry: tuple[Digest, int]) -> None:
        digest, size = entry
        try:
            data = self.target_chunks.get(digest)  # re-hashed by the store: DigestMismatch if damaged
        except (ChunkNotFound, IntegrityError) as error:
            self._problem(f"chunk {digest} cannot be read back from the target: {error}")
            return
        if len(data) != size:
            self._problem(f"chunk {digest} is {len(data)} bytes in the target, {size} in the manifests")

    def _check_size(self, entry: tuple[Digest, int]) -> None:
        digest, size = entry
        stored = self.target_chunks.size(digest)
        if stored != size:
            self._problem(f"chunk {digest} is {stored} bytes in the target, {size} in the manifests")

    def _verify_audit(self) -> int:
        """Verify the target's chain from its first event; returns how many events it holds."""
        prev_hash, prev_seq, count = "0" * 64, 0, 0
        with self.target_metadata.session() as session:
            while page := session.audit_events(after=prev_seq, limit=_AUDIT_PAGE):
                broken = verify_chain(page, prev_hash=prev_hash, prev_seq=prev_seq)
                if broken is not None:
                    self._problem(f"the target's audit chain is broken at event {broken}")
                    break
                prev_hash, prev_seq, count = page[-1].hash, page[-1].seq, count + len(page)
        source, target = self.copier.last_events()
        if source != target:
            self._problem(
                f"the audit chain ends at {_event(source)} in the source, at {_event(target)} in the target"
            )
        return count

    def _problem(self, text: str) -> None:
        self._problems.append(text)  # list.append is atomic: safe from the pool's threads

    def _tick(self, event: str, count: int) -> None:
        if self.progress is not None:
            self.progress(event, count)


def check_batch_size(rows: int) -> int:
    if isinstance(rows, bool) or not isinstance(rows, int) or not 1 <= rows <= 100_000:
        raise InvalidInput(f"invalid batch size {str(rows)[:40]!r}: expected 1 to 100000 rows")
    return rows


def _without_password(url: str) -> str:
    head, at, tail = url.rpartition("@")
    if not at:
        return url
    scheme, _, credentials = head.partition("://")
    return f"{scheme}://{credentials.split(':', 1)[0]}@{tail}"


def _event(entry: tuple[int, str] | None) -> str:
    return "no event" if entry is None else f"event {entry[0]} ({entry[1][:12]}…)"
