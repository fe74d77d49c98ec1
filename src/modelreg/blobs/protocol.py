"""The chunk store seam: a content-addressed store of immutable byte strings named by their sha256.

Every backend (``memory://``, ``file://``, later ``s3://``) implements this Protocol and passes the one
conformance suite in ``tests/contracts/test_chunk_store.py``. Backends raise only modelreg errors.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol, runtime_checkable

from modelreg.digest import Digest

__all__ = ["ChunkStore"]


@runtime_checkable
class ChunkStore(Protocol):
    """Content-addressed chunk storage. Chunks are at most 64 MiB and never change once written."""

    url: str
    """Where the chunks live, as given to ``open_chunk_store`` (credentials never included)."""

    def put(self, digest: Digest, data: bytes | memoryview, *, verified: bool = False) -> bool:
        """Store ``data`` under ``digest``, after checking that sha256(data) == digest.

        ``verified=True`` skips that check: only for bytes this process has just hashed itself (the
        embedded SDK's push), where a second sha256 pass would cost ~0.9 CPU-s per GiB and find nothing.
        Bytes that crossed a process boundary (an HTTP upload) are always checked.

        Atomic: a reader sees the whole chunk or nothing (temp object, fsync, rename). Idempotent: a chunk
        that already exists is success and is not rewritten. Safe for concurrent writers of the same digest.
        Returns True when this call wrote the bytes, False when the chunk was already there.
        Raises ``DigestMismatch`` (nothing stored) or ``StorageUnavailable``.
        """
        ...

    def get(self, digest: Digest, *, verify: bool = True) -> bytes:
        """The chunk's bytes, verified against ``digest`` on every read unless ``verify`` is False: then the
        caller checks them itself (a commit hashing whole files), and damaged bytes are its to notice.

        Raises ``ChunkNotFound``, ``DigestMismatch`` (stored bytes corrupted) or ``StorageUnavailable``.
        """
        ...

    def exists(self, digest: Digest) -> bool:
        """Whether the chunk is stored (no content check). Raises ``StorageUnavailable``."""
        ...

    def missing(self, digests: Iterable[Digest]) -> set[Digest]:
        """The subset of ``digests`` not stored. Backends may batch; raises ``StorageUnavailable``."""
        ...

    def size(self, digest: Digest) -> int:
        """Stored size in bytes. Raises ``ChunkNotFound`` or ``StorageUnavailable``."""
        ...

    def modified(self, digest: Digest) -> float:
        """When the stored object was written, in seconds since the epoch (a ``put`` of a chunk that is
        already stored does not change it). Garbage collection never deletes a chunk written less than its
        grace period ago: that covers uploads whose commit is still to come.

        Raises ``ChunkNotFound`` or ``StorageUnavailable``.
        """
        ...

    def delete(self, digest: Digest) -> bool:
        """Remove the chunk; True if it existed. Only garbage collection calls this."""
        ...

    def iter(self) -> Iterator[Digest]:
        """Every stored digest, in no particular order (for garbage collection and migration)."""
        ...
