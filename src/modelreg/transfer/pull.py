"""Pulling: fetch only chunks the local cache lacks, verify everything, then publish the files atomically.

    manifest ─► one chunk reader, authorised once for the version
             ─► per file, in the thread pool: chunk from cache or store (verified by sha256), written at
                its offset in a staging file (pwrite); in order, on this thread: the whole-file sha256
    all files verified ─► rename the staging directory into place (the old one, if replaced, goes after)

Until the final rename nothing is visible at the destination, so a failed or interrupted pull leaves the
destination exactly as it was, and it never holds a half-written file.

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
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from modelreg.digest import Digest
from modelreg.errors import ChunkNotFound, CorruptFile, DestinationExists, IntegrityError, InvalidPath
from modelreg.registry.manifest import FileRecord, Manifest
from modelreg.transfer.cache import ChunkCache
from modelreg.transfer.push import Progress
from modelreg.types import ModelVersion, PullResult

__all__ = ["PullBackend", "pull"]

_WINDOW = 32  # chunks in flight per file: bounds memory to about 32 MiB
# Bytes between background fdatasyncs of a file being assembled: the disk writes them while the next chunks
# are fetched and hashed, instead of all at the final fsync (~1 s for 1 GiB here).
_WRITEBACK = 128 * 1024 * 1024
_sync_data = getattr(os, "fdatasync", os.fsync)  # macOS has only fsync


class PullBackend(Protocol):
    def manifest(self, ref: str) -> tuple[ModelVersion, Manifest]: ...
    def read_chunk(self, ref: str, digest: str) -> bytes: ...
    def chunk_reader(self, ref: str) -> Callable[[str], bytes]: ...


class _Fetcher:
    def __init__(
        self, read: Callable[[str], bytes], cache: ChunkCache | None, progress: Progress | None
    ) -> None:
        self.read, self.cache, self.progress = read, cache, progress
        self.fetched = 0

    def __call__(self, digest: Digest) -> bytes:
        if self.cache is not None and (data := self.cache.get(digest)) is not None:
            self._report("cached", len(data))
            return data
        data = self.read(digest)  # verified by the store (or the HTTP client)
        self.fetched += len(data)
        if self.cache is not None:
            self.cache.put(digest, data)
        self._report("fetched", len(data))
        return data

    def _report(self, event: str, nbytes: int) -> None:
        if self.progress is not None:
            self.progress(event, nbytes)


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
    fetch = _Fetcher(backend.chunk_reader(version.ref), cache, progress)
    if progress is not None:
        progress("total", manifest.size)
    with _staging(target) as staging, ThreadPoolExecutor(workers, thread_name_prefix="modelreg-pull") as pool:
        for record in manifest.files:
            _assemble(record, staging, fetch, pool, version.ref)
        _publish(staging, target)
    return PullResult(
        path=str(target),
        version=version,
        bytes_total=manifest.size,
        bytes_fetched=fetch.fetched,
        seconds=time.perf_counter() - started,
    )


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


def _assemble(record: FileRecord, staging: Path, fetch: _Fetcher, pool: ThreadPoolExecutor, ref: str) -> None:
    path = staging / record.path
    if not path.resolve().is_relative_to(staging.resolve()):
        raise InvalidPath(f"file path {record.path!r} escapes the destination")
    path.parent.mkdir(parents=True, exist_ok=True)
    hasher = hashlib.sha256()
    pending: deque[Future[bytes]] = deque()
    syncs: list[Future[Any]] = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        offset = synced = 0
        for chunk in record.chunks:
            pending.append(pool.submit(_place, fetch, chunk.digest, chunk.size, fd, offset))
            offset += chunk.size
            if len(pending) >= _WINDOW:
                _absorb(pending.popleft(), hasher, record, ref)
                if offset - synced >= _WRITEBACK:  # flush what is written so far while fetching goes on
                    syncs, synced = [*syncs, pool.submit(_sync_data, fd)], offset
        while pending:
            _absorb(pending.popleft(), hasher, record, ref)
        for sync in syncs:
            sync.result()  # a write error is reported once, to whichever sync comes first
        os.fsync(fd)
    finally:
        for future in pending:  # after an error: no worker may write to the descriptor once it is closed
            future.cancel()
        in_flight: list[Future[Any]] = [*pending, *syncs]
        wait(in_flight)
        os.close(fd)
    if "sha256:" + hasher.hexdigest() != record.digest:
        raise CorruptFile(f"file {record.path!r} of {ref} failed verification: its sha256 does not match")


def _place(fetch: _Fetcher, digest: Digest, size: int, fd: int, offset: int) -> bytes:
    """Fetch a verified chunk and write it at its offset (a pool thread); the bytes go on to the file hash."""
    data = fetch(digest)
    if len(data) != size:
        raise IntegrityError(f"chunk {digest} holds {len(data)} bytes, the manifest says {size}")
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written
    return data


def _absorb(future: Future[bytes], hasher: hashlib._Hash, record: FileRecord, ref: str) -> None:
    """The next chunk in file order into the whole-file hash; errors name the file."""
    try:
        data = future.result()
    except IntegrityError as error:
        raise CorruptFile(
            f"file {record.path!r} of {ref} failed verification: {error.message}",
            details={"path": record.path},
        ) from None
    except ChunkNotFound as error:
        raise ChunkNotFound(
            f"file {record.path!r} of {ref} cannot be read: {error.message}", details={"path": record.path}
        ) from None
    hasher.update(data)


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
