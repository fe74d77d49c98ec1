"""Pushing: hash files, skip content the registry already has, upload only missing chunks, commit once.

    scan ─► stat cache: unchanged since a past push? ─ yes ─► its sha256, nothing read
              └─ no: small file ─► sha256 (thread pool, one file per thread)
              └─ no: large file ─► sha256 in one thread, overlapped with: split (safetensors / FastCDC)
                                   ─► sha256 per chunk (thread pool) ─► missing_chunks? ─► put_chunks (pool)
    sha256 known ─► known_files? ─ yes ─► reuse its chunk list (a large file stops chunking there)
                                 └─ no ──► split, many files at once ─► sha256 per chunk ─► missing_chunks?
                                                                                          ─► put_chunks
    ─► Manifest ─► commit_version (one transaction)
                       └─ CHUNK_BEING_COLLECTED / CHUNK_NOT_FOUND ─► missing_chunks? ─► put_chunks ─► commit

hashlib releases the GIL on large buffers, so hashing and uploads use every core. A large file that is not
in the stat cache is most likely new, so its chunk work starts at once beside the whole-file hash (both read
the same page-cache bytes) instead of after it; were it known after all, chunking stops as soon as its hash
is, and only the chunk hashing done meanwhile was wasted (its uploads were skipped: missing_chunks said the
chunks are stored). New files of known digest are cut a window of files at a time, so a model of many small
files costs a few requests, not two per file. Missing chunks are uploaded a few at a time (``put_chunks``:
one request over HTTP), at most MAX_CHUNK bytes together, so a server that accepts the largest chunk accepts
every upload. A commit refused because chunks vanished since they were checked (garbage collection took them,
or the store lost them) is retried a few times, with backoff, after uploading those chunks again from the
local files. Known files' chunks are not asked about before the commit: they are referenced by committed
versions (garbage collection keeps them), and a chunk lost anyway (the store lost it, or a version was
purged meanwhile) fails the commit, which is then retried the same way.
"""

from __future__ import annotations

import contextlib
import hashlib
import mmap
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from modelreg.chunking import MAX_CHUNK, Span, split, split_fastcdc, split_safetensors
from modelreg.digest import Digest, sha256_bytes
from modelreg.errors import ChunkBeingCollected, ChunkNotFound, InvalidPath
from modelreg.registry.manifest import ChunkRef, FileRecord, Manifest
from modelreg.transfer.scan import LocalFile, scan
from modelreg.transfer.statcache import StatCache
from modelreg.types import CommitReport, ModelVersion, PushStats

__all__ = ["Progress", "PushBackend", "push"]

Progress = Callable[[str, int], None]
T = TypeVar("T")
_READ_BLOCK = 8 * 1024 * 1024
_BATCH = 256  # chunks cut, hashed and uploaded together
# Files at least this large overlap their whole-file hash with chunking; smaller ones are hashed first,
# many at once, which keeps a push of many small known files to one known_files query.
_OVERLAP_MIN = 32 * 1024 * 1024
_QUERY = 10_000  # digests per missing-chunk query (the API's limit)
_UPLOAD_BYTES = MAX_CHUNK  # bytes per put_chunks call (a single larger chunk goes alone)
_UPLOAD_CHUNKS = 64  # chunks per put_chunks call (the API's limit)
_WINDOW_BYTES = 64 * 1024 * 1024  # new files cut together (a larger file goes alone)
_WINDOW_FILES = 256  # … and at most this many open at once
_COMMIT_ATTEMPTS = 8
_COMMIT_BACKOFF = 0.05  # seconds before the first re-upload; doubles each time (with jitter), ≤ 2 s


class PushBackend(Protocol):
    def known_files(self, digests: Sequence[str]) -> dict[str, list[tuple[str, int]]]: ...
    def missing_chunks(self, digests: Sequence[str]) -> list[str]: ...
    def put_chunks(self, chunks: Sequence[tuple[str, bytes | memoryview]]) -> list[bool]: ...
    def commit(self, name: str, manifest: Manifest, **metadata: Any) -> CommitReport: ...


@dataclass
class _Tally:
    progress: Progress | None
    hashed: int = 0
    stored: int = 0
    chunks_total: int = 0
    chunks_stored: int = 0

    def add(self, event: str, nbytes: int) -> None:
        if event == "hashed":
            self.hashed += nbytes
        elif event == "stored":
            self.stored += nbytes
            self.chunks_stored += 1
        if self.progress is not None:
            self.progress(event, nbytes)


def push(
    backend: PushBackend,
    name: str,
    path: str,
    *,
    workers: int = 8,
    progress: Progress | None = None,
    stat_cache: StatCache | None = None,
    **metadata: Any,
) -> tuple[ModelVersion, PushStats]:
    started = time.perf_counter()
    scanned_at_ns = time.time_ns()  # before the stat calls: the stat cache's racy-file reference
    local_files = scan(path)
    tally = _Tally(progress)
    tally.add("total", sum(local.size for local in local_files))
    remembered = stat_cache.lookup(local_files) if stat_cache is not None else {}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="modelreg-push") as pool:
        small = [f for f in local_files if f not in remembered and f.size < _OVERLAP_MIN]
        hashed = pool.map(lambda local: _hash_file(local, tally), small)
        digests: dict[LocalFile, Digest] = dict(zip(small, hashed, strict=True))
        digests.update(remembered)
        known = backend.known_files(list(dict.fromkeys(digests.values())))
        new = [local for local in local_files if local in digests and digests[local] not in known]
        uploaded = _upload_files(backend, pool, new, tally)
        files: dict[LocalFile, FileRecord] = {}
        for local in local_files:
            digest = digests.get(local)
            if local in remembered:
                tally.add("unchanged", local.size)  # not read: progress still moves by its size
            if digest is None:
                files[local] = _push_large(backend, pool, local, tally)
            elif digest in known:
                chunks = tuple(ChunkRef(Digest(d), size) for d, size in known[digest])
                files[local] = FileRecord(local.path, local.size, digest, chunks)
            else:
                files[local] = FileRecord(local.path, local.size, digest, uploaded[local])
        report = _commit(backend, pool, name, files, tally=tally, metadata=metadata)
    if stat_cache is not None:
        stat_cache.remember({f: record.digest for f, record in files.items()}, pushed_at_ns=scanned_at_ns)
    stats = PushStats(
        files=len(local_files),
        bytes_total=sum(local.size for local in local_files),
        bytes_hashed=tally.hashed,
        bytes_stored=tally.stored,
        chunks_total=tally.chunks_total,
        chunks_stored=tally.chunks_stored,
        seconds=time.perf_counter() - started,
        bytes_new=report.bytes_new,
        bytes_deduplicated=report.bytes_deduplicated,
    )
    return report.version, stats


def _commit(
    backend: PushBackend,
    pool: ThreadPoolExecutor,
    name: str,
    files: dict[LocalFile, FileRecord],
    *,
    tally: _Tally,
    metadata: dict[str, Any],
) -> CommitReport:
    manifest = Manifest.build(list(files.values()))
    for attempt in range(_COMMIT_ATTEMPTS):
        try:
            return backend.commit(name, manifest, **metadata)
        except (ChunkBeingCollected, ChunkNotFound):
            if attempt == _COMMIT_ATTEMPTS - 1:
                raise
        ceiling = min(2.0, _COMMIT_BACKOFF * 2**attempt)
        time.sleep(random.uniform(ceiling / 2, ceiling))
        _upload_again(backend, pool, files, tally)
    raise AssertionError("unreachable")  # pragma: no cover


def _upload_again(
    backend: PushBackend, pool: ThreadPoolExecutor, files: dict[LocalFile, FileRecord], tally: _Tally
) -> None:
    """Upload the manifest's chunks the registry now says are missing, read again from the local files."""
    where: dict[str, _Place] = {}  # chunk → its first occurrence
    for local, record in files.items():
        offset = 0
        for chunk in record.chunks:
            where.setdefault(chunk.digest, _Place(local, offset, chunk.size))
            offset += chunk.size
    wanted = list(where)
    missing: list[str] = []
    for start in range(0, len(wanted), _QUERY):
        missing.extend(backend.missing_chunks(wanted[start : start + _QUERY]))
    groups = _groups([(Digest(digest), where[digest]) for digest in missing], lambda place: place.size)
    for upload in [pool.submit(_reput, backend, group, tally) for group in groups]:
        upload.result()


@dataclass(frozen=True, slots=True)
class _Place:
    local: LocalFile
    offset: int
    size: int

    def read(self) -> bytes:
        with _open(self.local) as handle:
            handle.seek(self.offset)
            data: bytes = handle.read(self.size)
            return data


def _reput(backend: PushBackend, group: list[tuple[Digest, _Place]], tally: _Tally) -> None:
    chunks: list[tuple[Digest, bytes]] = []
    for digest, place in group:
        data = place.read()
        if sha256_bytes(data) != digest:
            raise InvalidPath(f"file {place.local.path!r} changed while it was being pushed; push again")
        chunks.append((digest, data))
    _put(backend, chunks, tally)


def _hash_file(local: LocalFile, tally: _Tally) -> Digest:
    hasher = hashlib.sha256()
    buffer = bytearray(_READ_BLOCK)
    view = memoryview(buffer)
    with _open(local) as handle:
        while count := handle.readinto(buffer):
            hasher.update(view[:count])
            tally.add("hashed", count)
    return Digest("sha256:" + hasher.hexdigest())


def _upload_files(
    backend: PushBackend, pool: ThreadPoolExecutor, files: list[LocalFile], tally: _Tally
) -> dict[LocalFile, tuple[ChunkRef, ...]]:
    """Chunk, hash and upload files whose whole-file digests are known (and new to the registry), a window
    of files at a time: their chunks are hashed, asked about and uploaded in batches that span files."""
    refs: dict[LocalFile, tuple[ChunkRef, ...]] = {}
    window: list[LocalFile] = []
    held = 0
    for local in files:
        if window and (held + local.size > _WINDOW_BYTES or len(window) == _WINDOW_FILES):
            refs.update(_upload_window(backend, pool, window, tally))
            window, held = [], 0
        window.append(local)
        held += local.size
    if window:
        refs.update(_upload_window(backend, pool, window, tally))
    return refs


def _upload_window(
    backend: PushBackend, pool: ThreadPoolExecutor, window: list[LocalFile], tally: _Tally
) -> dict[LocalFile, tuple[ChunkRef, ...]]:
    refs: list[ChunkRef] = []
    counts: list[int] = []
    with contextlib.ExitStack() as stack:  # closed in reverse: the slices, each view, each map, each file
        pieces: list[memoryview] = []
        for local in window:
            spans: list[Span] = []
            if local.size:
                handle = stack.enter_context(_open(local))
                mapped = stack.enter_context(mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ))
                view = stack.enter_context(memoryview(mapped))
                spans = split(mapped)
                pieces.extend(stack.enter_context(view[s.offset : s.offset + s.size]) for s in spans)
            counts.append(len(spans))
        for start in range(0, len(pieces), _BATCH):
            refs.extend(_upload_batch(backend, pool, pieces[start : start + _BATCH], tally))
    result: dict[LocalFile, tuple[ChunkRef, ...]] = {}
    position = 0
    for local, count in zip(window, counts, strict=True):
        _check_unchanged(local)
        result[local] = tuple(refs[position : position + count])
        position += count
    return result


def _push_large(
    backend: PushBackend, pool: ThreadPoolExecutor, local: LocalFile, tally: _Tally
) -> FileRecord:
    """A large file of unknown digest. If its first chunk is stored already, the file is probably known:
    hash it, ask, and chunk only if it is not (a re-push from a machine without the stat cache then costs
    one sha256 pass, as before). Otherwise it is new: its whole-file sha256 runs in one pool thread while
    this thread splits it and the pool hashes and uploads its chunks. Between batches, once the digest is
    in, the registry is asked whether it knows the file after all; if so the chunking stops there."""
    stop = threading.Event()
    with _open(local) as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        if not backend.missing_chunks([_first_chunk(mapped)]):
            digest = _hash_mapped(mapped, tally, stop)
            if (reused := _known(backend, digest)) is not None:
                return FileRecord(local.path, local.size, digest, reused)
            chunks = _upload_spans(backend, pool, mapped, split(mapped), tally)
            _check_unchanged(local)
            return FileRecord(local.path, local.size, digest, tuple(chunks))
        whole = pool.submit(_hash_mapped, mapped, tally, stop)
        try:
            spans = split(mapped)
            refs: list[ChunkRef] = []
            for start in range(0, len(spans), _BATCH):
                if start and whole.done() and (reused := _known(backend, whole.result())) is not None:
                    return FileRecord(local.path, local.size, whole.result(), reused)
                refs.extend(_upload_spans(backend, pool, mapped, spans[start : start + _BATCH], tally))
            digest = whole.result()
        finally:
            stop.set()  # on error, end the hash early; either way it must release the map before it closes
            wait([whole])
    _check_unchanged(local)
    return FileRecord(local.path, local.size, digest, tuple(refs))


def _first_chunk(mapped: mmap.mmap) -> Digest:
    """The digest of the file's first chunk, without cutting the whole file: a safetensors split reads only
    the header; FastCDC's first cut depends only on the first MAX_CHUNK bytes (it is forced there at most)."""
    spans = split_safetensors(mapped)
    with memoryview(mapped) as view, view[:MAX_CHUNK] as head:
        first = spans[0] if spans else split_fastcdc(head, workers=1)[0]
        with view[first.offset : first.offset + first.size] as chunk:
            return sha256_bytes(chunk)


def _hash_mapped(mapped: mmap.mmap, tally: _Tally, stop: threading.Event) -> Digest:
    hasher = hashlib.sha256()
    with memoryview(mapped) as view:
        for start in range(0, len(view), _READ_BLOCK):
            if stop.is_set():
                raise _Stopped
            with view[start : start + _READ_BLOCK] as block:
                hasher.update(block)
                tally.add("hashed", len(block))
    return Digest("sha256:" + hasher.hexdigest())


class _Stopped(Exception):
    """The whole-file hash was abandoned because the push failed; never seen by callers."""


def _known(backend: PushBackend, digest: Digest) -> tuple[ChunkRef, ...] | None:
    """The chunk list of a file the registry already stores in full, else None."""
    known = backend.known_files([digest])
    if digest not in known:
        return None
    return tuple(ChunkRef(Digest(d), size) for d, size in known[digest])


def _upload_spans(
    backend: PushBackend, pool: ThreadPoolExecutor, mapped: mmap.mmap, spans: list[Span], tally: _Tally
) -> list[ChunkRef]:
    refs: list[ChunkRef] = []
    for start in range(0, len(spans), _BATCH):
        with memoryview(mapped) as view:  # released before the map closes
            batch = [view[s.offset : s.offset + s.size] for s in spans[start : start + _BATCH]]
            try:
                refs.extend(_upload_batch(backend, pool, batch, tally))
            finally:
                for piece in batch:
                    piece.release()
    return refs


def _upload_batch(
    backend: PushBackend, pool: ThreadPoolExecutor, pieces: list[memoryview], tally: _Tally
) -> list[ChunkRef]:
    """Hash, ask, upload. Returns only once no thread still reads ``pieces``, even on error, so the caller
    can release the slices and close the map (else a ``BufferError`` would hide the real error)."""
    started: list[Future[Any]] = [pool.submit(sha256_bytes, piece) for piece in pieces]
    try:
        digests: list[Digest] = [future.result() for future in started]
        tally.chunks_total += len(pieces)
        missing = set(backend.missing_chunks(digests))
        wanted: list[tuple[Digest, memoryview]] = []
        for digest, piece in zip(digests, pieces, strict=True):
            if digest in missing:
                missing.discard(digest)  # a chunk repeated inside one batch is uploaded once
                wanted.append((digest, piece))
        uploads = [pool.submit(_put, backend, group, tally) for group in _groups(wanted, len)]
        started += uploads
        for upload in uploads:
            upload.result()
    finally:
        for future in started:
            future.cancel()
        wait(started)
    return [ChunkRef(digest, len(piece)) for digest, piece in zip(digests, pieces, strict=True)]


def _groups(items: list[tuple[Digest, T]], size: Callable[[T], int]) -> list[list[tuple[Digest, T]]]:
    """The chunks in order, in runs of at most _UPLOAD_BYTES and _UPLOAD_CHUNKS: one put_chunks call each."""
    groups: list[list[tuple[Digest, T]]] = []
    held = 0
    for item in items:
        nbytes = size(item[1])
        if not groups or held + nbytes > _UPLOAD_BYTES or len(groups[-1]) == _UPLOAD_CHUNKS:
            groups.append([])
            held = 0
        groups[-1].append(item)
        held += nbytes
    return groups


def _put(backend: PushBackend, chunks: Sequence[tuple[Digest, bytes | memoryview]], tally: _Tally) -> None:
    written = backend.put_chunks(chunks)
    for (_, data), new in zip(chunks, written, strict=True):
        if new:
            tally.add("stored", len(data))


@contextlib.contextmanager
def _open(local: LocalFile) -> Iterator[Any]:
    try:
        with open(local.source, "rb", buffering=0) as handle:
            yield handle
    except OSError as error:
        raise InvalidPath(f"cannot read {local.path!r}: {error.strerror}") from None


def _check_unchanged(local: LocalFile) -> None:
    """A file rewritten while it was pushed would commit chunks that disagree with its digest."""
    info = local.source.stat()
    if info.st_size != local.size or info.st_mtime_ns != local.mtime_ns:
        raise InvalidPath(f"file {local.path!r} changed while it was being pushed; push again")
