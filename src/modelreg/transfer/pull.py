"""Pulling: fetch only chunks the local cache lacks, verify everything, then publish the files atomically.

    manifest ─► per file: chunks from cache or store (thread pool, each verified by sha256)
             ─► written in order to a staging directory beside the destination, whole-file sha256 checked
    all files verified ─► rename the staging directory into place (the old one, if replaced, goes after)

Until the final rename nothing is visible at the destination, so a failed or interrupted pull leaves the
destination exactly as it was, and it never holds a half-written file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from modelreg.digest import Digest
from modelreg.errors import ChunkNotFound, CorruptFile, DestinationExists, IntegrityError, InvalidPath
from modelreg.registry.manifest import FileRecord, Manifest
from modelreg.transfer.cache import ChunkCache
from modelreg.transfer.push import Progress
from modelreg.types import ModelVersion, PullResult

__all__ = ["PullBackend", "pull"]

_WINDOW = 32  # chunks in flight per file: bounds memory to about 32 MiB


class PullBackend(Protocol):
    def manifest(self, ref: str) -> tuple[ModelVersion, Manifest]: ...
    def read_chunk(self, ref: str, digest: str) -> bytes: ...


class _Fetcher:
    def __init__(
        self, backend: PullBackend, ref: str, cache: ChunkCache | None, progress: Progress | None
    ) -> None:
        self.backend, self.ref, self.cache, self.progress = backend, ref, cache, progress
        self.fetched = 0

    def __call__(self, digest: Digest) -> bytes:
        if self.cache is not None and (data := self.cache.get(digest)) is not None:
            self._report("cached", len(data))
            return data
        data = self.backend.read_chunk(self.ref, digest)  # verified by the store (or the HTTP client)
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
    fetch = _Fetcher(
        backend, version.ref, cache, progress
    )  # pinned: an alias moving mid-pull changes nothing
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
    chunks = iter(record.chunks)
    with open(path, "wb") as handle:
        for chunk in chunks:
            pending.append(pool.submit(fetch, chunk.digest))
            if len(pending) >= _WINDOW:
                _write(pending.popleft(), handle, hasher, record, ref)
        while pending:
            _write(pending.popleft(), handle, hasher, record, ref)
        handle.flush()
        os.fsync(handle.fileno())
    if "sha256:" + hasher.hexdigest() != record.digest:
        raise CorruptFile(f"file {record.path!r} of {ref} failed verification: its sha256 does not match")


def _write(
    future: Future[bytes], handle: object, hasher: hashlib._Hash, record: FileRecord, ref: str
) -> None:
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
    handle.write(data)  # type: ignore[attr-defined]


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
