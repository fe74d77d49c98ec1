"""The default chunk store: one file per chunk in a local (or mounted) directory.

    <root>/
    ├── sha256/
    │   └── 2c/
    │       └── 26/
    │           └── 2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae   (the chunk's bytes)
    └── tmp/
        └── 2c26b4….<random>.tmp    (a put in flight, or left by a crash: never read, safe to delete)

Two levels of 256 directories keep each directory small (65,536 leaves hold ~100 M chunks at ~1,500 each).

A put writes a temp file, fsyncs it, then hard-links it into place and fsyncs the directory. ``link`` fails
when the name exists, which makes concurrent writers of one digest safe and lets exactly one of them report
that it wrote the chunk; a published name only ever points at complete, synced bytes. Every get re-hashes.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from modelreg.blobs import check_chunk
from modelreg.digest import Digest, digest_hex, parse_digest
from modelreg.errors import ChunkNotFound, StorageUnavailable

__all__ = ["FileChunkStore"]

_HEX = re.compile(r"[0-9a-f]{64}")
# fdatasync skips the timestamp update, which nothing here needs; macOS has only fsync.
_sync_data = getattr(os, "fdatasync", os.fsync)
# Filesystems without hard links (some FUSE and SMB mounts) say so with one of these.
_NO_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS}


class FileChunkStore:
    """``file:///abs/root``: durable, atomic, idempotent, verified; safe across threads and processes."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).absolute()
        self.url = self.root.as_uri()
        # Plain strings rather than Paths: a push stats ~100k names and a Path costs ~10 µs to build.
        self._objects = os.path.join(self.root, "sha256")
        self._tmp = os.path.join(self.root, "tmp")
        # Directories known to exist, so the hot path makes no mkdir calls; created on first use.
        self._made: set[str] = set()

    def put(self, digest: Digest, data: bytes | memoryview, *, verified: bool = False) -> bool:
        digest = parse_digest(digest)
        if not verified:
            check_chunk(digest, data, stored=False)
        directory, path = self._locate(digest)
        with self._unavailable("write", digest):
            if _exists(path):
                _sync_dir(directory)  # its writer may not have synced the directory yet
                return False
            temp = self._write_temp(digest, data)
            try:
                return self._publish(temp, directory, path)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temp)

    def get(self, digest: Digest, *, verify: bool = True) -> bytes:
        digest = parse_digest(digest)
        with self._unavailable("read", digest), open(self._locate(digest)[1], "rb", buffering=0) as file:
            payload = file.read()
        if verify:
            check_chunk(digest, payload, stored=True)
        return payload

    def exists(self, digest: Digest) -> bool:
        digest = parse_digest(digest)
        with self._unavailable("check", digest):
            return _exists(self._locate(digest)[1])

    def missing(self, digests: Iterable[Digest]) -> set[Digest]:
        wanted = {parse_digest(digest) for digest in digests}
        with self._unavailable("check", None):
            return {digest for digest in wanted if not _exists(self._locate(digest)[1])}

    def size(self, digest: Digest) -> int:
        digest = parse_digest(digest)
        with self._unavailable("stat", digest):
            return os.stat(self._locate(digest)[1]).st_size

    def modified(self, digest: Digest) -> float:
        # The temp file's mtime: a hard link shares the inode, so publishing does not change it; it is
        # the file system's clock (a network mount's server), which the grace period easily covers.
        digest = parse_digest(digest)
        with self._unavailable("stat", digest):
            return os.stat(self._locate(digest)[1]).st_mtime

    def delete(self, digest: Digest) -> bool:
        # No directory fsync: a deletion lost in a crash only leaves garbage for the next collection.
        digest = parse_digest(digest)
        with self._unavailable("delete", digest):
            try:
                os.unlink(self._locate(digest)[1])
            except FileNotFoundError:
                return False
        return True

    def iter(self) -> Iterator[Digest]:
        with self._unavailable("list", None):
            for first in _subdirs(self._objects):
                for second in _subdirs(f"{self._objects}/{first}"):
                    yield from _chunks(f"{self._objects}/{first}/{second}", prefix=first + second)

    def _locate(self, digest: Digest) -> tuple[str, str]:
        """(directory, file) of a chunk."""
        hex_ = digest_hex(digest)
        directory = f"{self._objects}/{hex_[0:2]}/{hex_[2:4]}"
        return directory, f"{directory}/{hex_}"

    def _write_temp(self, digest: Digest, data: bytes | memoryview) -> str:
        self._make_dir(self._tmp)
        temp = f"{self._tmp}/{digest_hex(digest)}.{secrets.token_hex(8)}.tmp"
        fd = _create(temp, retry=lambda: self._remake_dir(self._tmp))
        try:
            view = memoryview(data).cast("B")
            while view:
                view = view[os.write(fd, view) :]
            _sync_data(fd)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        os.close(fd)
        return temp

    def _publish(self, temp: str, directory: str, path: str) -> bool:
        self._make_dir(directory)
        try:
            _link(temp, path, retry=lambda: self._remake_dir(directory))
        except FileExistsError:  # a concurrent writer of the same digest won; its bytes are the same
            wrote = False
        else:
            wrote = True
        _sync_dir(directory)
        return wrote

    def _make_dir(self, directory: str) -> None:
        if directory in self._made:
            return
        parent = os.path.dirname(directory)
        try:
            os.mkdir(directory)
        except FileExistsError:
            pass
        except FileNotFoundError:
            self._made.discard(parent)
            self._make_dir(parent)
            with contextlib.suppress(FileExistsError):
                os.mkdir(directory)
                _sync_dir(parent)
        else:
            _sync_dir(parent)  # the new entry must survive a crash as much as the chunk in it
        self._made.add(directory)

    def _remake_dir(self, directory: str) -> None:
        # The directory went away behind our cache (someone cleaned tmp/ by hand?): make it again.
        self._made.discard(directory)
        self._make_dir(directory)

    @contextlib.contextmanager
    def _unavailable(self, action: str, digest: Digest | None) -> Iterator[None]:
        """Turn OSError into our errors: a missing chunk file is ChunkNotFound, anything else is retryable."""
        try:
            yield
        except FileNotFoundError as exc:
            if digest is None or action == "write":
                raise self._storage_error(action, digest, exc) from exc
            raise ChunkNotFound(f"chunk {digest} not found", details={"digest": digest}) from exc
        except OSError as exc:
            raise self._storage_error(action, digest, exc) from exc

    def _storage_error(self, action: str, digest: Digest | None, exc: OSError) -> StorageUnavailable:
        subject = f"chunk {digest}" if digest else "chunks"
        return StorageUnavailable(
            f"chunk store unavailable: cannot {action} {subject} in {self.url}: {exc}",
            details={"url": self.url, "errno": exc.errno},
        )


def _exists(path: str) -> bool:
    try:
        os.stat(path)
    except FileNotFoundError:
        return False
    return True


def _create(path: str, *, retry: Callable[[], None]) -> int:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    try:
        return os.open(path, flags, 0o644)
    except FileNotFoundError:
        retry()
        return os.open(path, flags, 0o644)


def _link(temp: str, path: str, *, retry: Callable[[], None]) -> None:
    try:
        os.link(temp, path)
    except FileNotFoundError:
        retry()
        os.link(temp, path)
    except OSError as exc:
        if exc.errno not in _NO_LINKS:
            raise
        # No hard links: rename instead. Still atomic; a racing writer may also report True.
        if _exists(path):
            raise FileExistsError(errno.EEXIST, "chunk exists", path) from exc
        os.replace(temp, path)


def _sync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _subdirs(directory: str) -> list[str]:
    try:
        with os.scandir(directory) as entries:
            return [entry.name for entry in entries if entry.is_dir(follow_symlinks=False)]
    except FileNotFoundError:  # nothing stored yet (or a directory removed while listing)
        return []


def _chunks(directory: str, *, prefix: str) -> list[Digest]:
    try:
        with os.scandir(directory) as entries:
            names = [entry.name for entry in entries if entry.is_file(follow_symlinks=False)]
    except FileNotFoundError:
        return []
    return [Digest("sha256:" + name) for name in names if _HEX.fullmatch(name) and name.startswith(prefix)]
