"""Pulling: fetch only chunks the local cache lacks, verify everything, then publish the files atomically.

    manifest ─► every file created empty in a staging directory
             ─► the chunks of all files, in manifest order, cut into batches of about 8 MiB; per batch, in
                the thread pool: chunks from the cache, the rest from the store in one request (each
                verified by sha256), each written at its offset in its file (pwrite)
             ─► in order, on this thread: each file's whole sha256, then fsync
    all files verified ─► rename the staging directory into place (the old one, if replaced, goes after)

Until the final rename nothing is visible at the destination, so a failed or interrupted pull leaves the
destination exactly as it was, and it never holds a half-written file. Batches span files, so a version
of many small files takes a few requests, not one per file.

The local cache is written whenever one is configured. With a ``file://`` store that doubles the bytes
written on the same machine, which is why the settings give embedded registries no cache by default; a
cache the user asks for is honoured (it still spares the store's reads and re-verification).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from modelreg.errors import ChunkNotFound, CorruptFile, DestinationExists, IntegrityError, InvalidPath
from modelreg.registry.manifest import ChunkRef, FileRecord, Manifest
from modelreg.transfer.cache import ChunkCache
from modelreg.transfer.push import Progress
from modelreg.types import ModelVersion, PullResult

__all__ = ["PullBackend", "pull"]

_BATCH_BYTES = 8 * 1024 * 1024  # chunks asked for in one request (about 8 with ~1 MiB chunks)
_BATCH_CHUNKS = 256  # also bounds a batch of tiny files (each is opened by the batch that writes it)
_WINDOW = 8  # batches in flight: bounds memory to about 64 MiB
# Bytes between background fdatasyncs of a file being assembled: the disk writes them while the next chunks
# are fetched and hashed, instead of all at the final fsync (~1 s for 1 GiB here).
_WRITEBACK = 128 * 1024 * 1024
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_sync_data = getattr(os, "fdatasync", os.fsync)  # macOS has only fsync


class PullBackend(Protocol):
    def manifest(self, ref: str) -> tuple[ModelVersion, Manifest]: ...
    def read_chunks(self, ref: str, chunks: Sequence[ChunkRef]) -> Iterable[bytes]:
        """The chunks' verified bytes, in the order given."""
        ...


@dataclass(slots=True)
class _Target:
    """One file being assembled in the staging directory."""

    record: FileRecord
    path: Path
    hasher: Any = field(default_factory=hashlib.sha256)
    left: int = 0  # chunks not yet hashed
    hashed: int = 0  # bytes hashed so far
    synced: int = 0  # bytes handed to a background fdatasync


@dataclass(frozen=True, slots=True)
class _Piece:
    target: _Target
    chunk: ChunkRef
    offset: int


class _Fetcher:
    """A batch's bytes: from the cache when it holds them, the rest from the store in one read."""

    def __init__(self, backend: PullBackend, ref: str, cache: ChunkCache | None, progress: Progress | None):
        self.backend, self.ref, self.cache, self.progress = backend, ref, cache, progress

    def __call__(self, batch: Sequence[_Piece]) -> tuple[list[bytes], int]:
        """(each piece's verified bytes, bytes read from the store); errors name the file."""
        found = [self.cache.get(p.chunk.digest) if self.cache is not None else None for p in batch]
        wanted = [piece for piece, data in zip(batch, found, strict=True) if data is None]
        chunks = [piece.chunk for piece in wanted]
        fetched = _read(self.backend.read_chunks(self.ref, chunks), wanted, self.ref) if chunks else []
        for data in found:
            if data is not None:
                self._report("cached", len(data))
        for piece, data in zip(wanted, fetched, strict=True):
            if self.cache is not None:
                self.cache.put(piece.chunk.digest, data)
            self._report("fetched", len(data))
        fresh = iter(fetched)
        return [data if data is not None else next(fresh) for data in found], sum(map(len, fetched))

    def _report(self, event: str, nbytes: int) -> None:
        if self.progress is not None:
            self.progress(event, nbytes)


def _read(chunks: Iterable[bytes], wanted: Sequence[_Piece], ref: str) -> list[bytes]:
    """All of a batch's bytes from the store; a bad or missing chunk fails naming its file."""
    received: list[bytes] = []
    try:
        for data in chunks:
            received.append(data)
    except IntegrityError as error:
        record = wanted[len(received)].target.record
        raise CorruptFile(
            f"file {record.path!r} of {ref} failed verification: {error.message}",
            details={"path": record.path},
        ) from None
    except ChunkNotFound as error:
        record = wanted[len(received)].target.record
        raise ChunkNotFound(
            f"file {record.path!r} of {ref} cannot be read: {error.message}", details={"path": record.path}
        ) from None
    if len(received) != len(wanted):
        raise IntegrityError(f"the store answered {len(received)} chunks of the {len(wanted)} asked for")
    for piece, data in zip(wanted, received, strict=True):
        if len(data) != piece.chunk.size:
            record, digest = piece.target.record, piece.chunk.digest
            raise CorruptFile(
                f"file {record.path!r} of {ref} failed verification: chunk {digest} holds {len(data)} bytes, "
                f"the manifest says {piece.chunk.size}",
                details={"path": record.path},
            )
    return received


def pull(
    backend: PullBackend,
    ref: str,
    *,
    dest: str | os.PathLike[str] | None = None,
    cache: ChunkCache | None = None,
    overwrite: bool = False,
    workers: int = 8,
    progress: Progress | None = None,
) -> PullResult:
    started = time.perf_counter()
    version, manifest = backend.manifest(ref)
    target = Path(dest) if dest is not None else Path.cwd() / f"{version.name}-v{version.version}"
    _check_destination(target, overwrite=overwrite)
    # Pinned to the version: an alias moving mid-pull changes nothing.
    fetch = _Fetcher(backend, version.ref, cache, progress)
    if progress is not None:
        progress("total", manifest.size)
    with _staging(target) as staging, ThreadPoolExecutor(workers, thread_name_prefix="modelreg-pull") as pool:
        fetched = _Assembly(staging, fetch, pool, version.ref).run(manifest.files)
        _publish(staging, target)
    return PullResult(
        path=str(target),
        version=version,
        bytes_total=manifest.size,
        bytes_fetched=fetched,
        seconds=time.perf_counter() - started,
    )


class _Assembly:
    """Writes the files of a manifest into the staging directory, verified; one per pull."""

    def __init__(self, staging: Path, fetch: _Fetcher, pool: ThreadPoolExecutor, ref: str) -> None:
        self.staging, self.fetch, self.pool, self.ref = staging, fetch, pool, ref
        self.fetched = 0
        self.syncs: dict[Path, list[Future[None]]] = {}

    def run(self, records: Sequence[FileRecord]) -> int:
        """Bytes read from the store."""
        targets = [self._create(record) for record in records]
        pending: deque[tuple[list[_Piece], Future[tuple[list[bytes], int]]]] = deque()
        try:
            for target in targets:
                if target.left == 0:
                    self._finish(target)
            for batch in _batches(targets):
                pending.append((batch, self.pool.submit(self._fetch_and_write, batch)))
                if len(pending) >= _WINDOW:
                    self._absorb(*pending.popleft())
            while pending:
                self._absorb(*pending.popleft())
        finally:
            for _, future in pending:  # after an error: no batch may write once the staging files go
                future.cancel()
            in_flight: list[Future[Any]] = [future for _, future in pending]
            wait([*in_flight, *(sync for syncs in self.syncs.values() for sync in syncs)])
        return self.fetched

    def _create(self, record: FileRecord) -> _Target:
        path = self.staging / record.path
        if not path.resolve().is_relative_to(self.staging.resolve()):
            raise InvalidPath(f"file path {record.path!r} escapes the destination")
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_CLOEXEC, 0o666))
        return _Target(record, path, left=sum(1 for chunk in record.chunks if chunk.size))

    def _fetch_and_write(self, batch: list[_Piece]) -> tuple[list[bytes], int]:
        """A pool thread: the batch's verified bytes, each written at its offset in its file."""
        datas, fetched = self.fetch(batch)
        start = 0
        while start < len(batch):  # the batch's pieces of one file, through one descriptor
            end = start
            while end < len(batch) and batch[end].target is batch[start].target:
                end += 1
            fd = os.open(batch[start].target.path, os.O_WRONLY | _O_CLOEXEC)
            try:
                for piece, data in zip(batch[start:end], datas[start:end], strict=True):
                    _write_at(fd, data, piece.offset)
            finally:
                os.close(fd)
            start = end
        return datas, fetched

    def _absorb(self, batch: list[_Piece], future: Future[tuple[list[bytes], int]]) -> None:
        """The next batch in manifest order into its files' hashes; finished files are verified."""
        datas, fetched = future.result()
        self.fetched += fetched
        for piece, data in zip(batch, datas, strict=True):
            target = piece.target
            target.hasher.update(data)
            target.hashed += len(data)
            target.left -= 1
            if target.left == 0:
                self._finish(target)
            elif target.hashed - target.synced >= _WRITEBACK:  # flush while fetching goes on
                target.synced = target.hashed
                self.syncs.setdefault(target.path, []).append(self.pool.submit(_sync_file, target.path))

    def _finish(self, target: _Target) -> None:
        for sync in self.syncs.pop(target.path, []):
            sync.result()  # a write error is reported once, to whichever sync comes first
        _sync_file(target.path, full=True)
        record = target.record
        if "sha256:" + target.hasher.hexdigest() != record.digest:
            raise CorruptFile(
                f"file {record.path!r} of {self.ref} failed verification: its sha256 does not match",
                details={"path": record.path},
            )


def _batches(targets: Sequence[_Target]) -> Iterator[list[_Piece]]:
    """Every chunk of every file in manifest order (empty chunks carry nothing), cut into batches."""
    batch: list[_Piece] = []
    size = 0
    for target in targets:
        offset = 0
        for chunk in target.record.chunks:
            if chunk.size:
                batch.append(_Piece(target, chunk, offset))
                size += chunk.size
                if size >= _BATCH_BYTES or len(batch) >= _BATCH_CHUNKS:
                    yield batch
                    batch, size = [], 0
            offset += chunk.size
    if batch:
        yield batch


def _write_at(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written


def _sync_file(path: Path, *, full: bool = False) -> None:
    fd = os.open(path, os.O_WRONLY | _O_CLOEXEC)
    try:
        (os.fsync if full else _sync_data)(fd)
    finally:
        os.close(fd)


def _check_destination(target: Path, *, overwrite: bool) -> None:
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise DestinationExists(f"destination {str(target)!r} exists and is not a directory")
    if target.is_dir() and any(target.iterdir()) and not overwrite:
        raise DestinationExists(
            f"destination {str(target)!r} exists and is not empty (use overwrite to replace it)"
        )


@contextmanager
def _staging(target: Path) -> Iterator[Path]:
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.modelreg-partial-{secrets.token_hex(6)}"
    staging.mkdir()
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone after publish; a failure leaves no trace


def _publish(staging: Path, target: Path) -> None:
    if target.is_dir():
        old = target.parent / f".{target.name}.modelreg-old-{secrets.token_hex(6)}"
        os.rename(target, old)
        os.rename(staging, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(staging, target)
    with contextlib.suppress(OSError):  # make the rename durable where the platform allows
        descriptor = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
