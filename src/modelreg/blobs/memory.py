"""An in-process chunk store for tests and throwaway registries: a dict behind a lock."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator

from modelreg.blobs import check_chunk
from modelreg.digest import Digest, parse_digest
from modelreg.errors import ChunkNotFound

__all__ = ["MemoryChunkStore"]


class MemoryChunkStore:
    """``memory://``: chunks live as long as the object. Thread-safe; verifies on put and on get."""

    url = "memory://"

    def __init__(self) -> None:
        self._chunks: dict[Digest, bytes] = {}
        self._written: dict[Digest, float] = {}  # digest → time.time() of its put
        self._lock = threading.Lock()

    def put(self, digest: Digest, data: bytes | memoryview, *, verified: bool = False) -> bool:
        digest = parse_digest(digest)
        if not verified:
            check_chunk(digest, data, stored=False)
        payload = bytes(data)  # own the bytes: the caller may reuse its buffer
        with self._lock:
            if digest in self._chunks:
                return False
            self._chunks[digest] = payload
            self._written[digest] = time.time()
            return True

    def get(self, digest: Digest, *, verify: bool = True) -> bytes:
        payload = self._lookup(digest)
        if verify:
            check_chunk(digest, payload, stored=True)
        return payload

    def exists(self, digest: Digest) -> bool:
        digest = parse_digest(digest)
        with self._lock:
            return digest in self._chunks

    def missing(self, digests: Iterable[Digest]) -> set[Digest]:
        wanted = {parse_digest(digest) for digest in digests}
        with self._lock:
            return {digest for digest in wanted if digest not in self._chunks}

    def size(self, digest: Digest) -> int:
        return len(self._lookup(digest))

    def modified(self, digest: Digest) -> float:
        digest = parse_digest(digest)
        with self._lock:
            written = self._written.get(digest)
        if written is None:
            raise ChunkNotFound(f"chunk {digest} not found", details={"digest": digest})
        return written

    def delete(self, digest: Digest) -> bool:
        digest = parse_digest(digest)
        with self._lock:
            self._written.pop(digest, None)
            return self._chunks.pop(digest, None) is not None

    def iter(self) -> Iterator[Digest]:
        with self._lock:
            digests = list(self._chunks)
        return iter(digests)  # a snapshot, so callers may delete while iterating (as GC does)

    def corrupt(self, digest: Digest) -> None:
        """Test hook: damage a stored chunk (flip its first byte, or add one if empty) as a bad disk would."""
        with self._lock:
            payload = self._chunks[parse_digest(digest)]
            damaged = bytes([payload[0] ^ 0xFF]) + payload[1:] if payload else b"\0"
            self._chunks[digest] = damaged

    def _lookup(self, digest: Digest) -> bytes:
        digest = parse_digest(digest)
        with self._lock:
            payload = self._chunks.get(digest)
        if payload is None:
            raise ChunkNotFound(f"chunk {digest} not found", details={"digest": digest})
        return payload
