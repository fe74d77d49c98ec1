"""Chunk stores: content-addressed, verified, immutable byte strings named by their sha256.

The seam is ``ChunkStore`` (``blobs/protocol.py``); backends are ``memory.MemoryChunkStore`` (tests),
``file.FileChunkStore`` (the default) and, later, S3. Only the composition root imports a backend.
``check_chunk`` is the one content check they all run on every put and every get.
"""

from __future__ import annotations

from modelreg.digest import Digest, sha256_bytes
from modelreg.errors import DigestMismatch

__all__ = ["check_chunk"]


def check_chunk(digest: Digest, data: bytes | memoryview, *, stored: bool) -> None:
    """Raise ``DigestMismatch`` unless sha256(data) == digest; ``stored`` says the bytes came from the store.

    Example messages::

        chunk sha256:2c26… does not match its content (got sha256:fcde…)
        stored chunk sha256:2c26… is corrupted: its bytes hash to sha256:fcde…
    """
    actual = sha256_bytes(data)
    if actual == digest:
        return
    if stored:
        message = f"stored chunk {digest} is corrupted: its bytes hash to {actual}"
    else:
        message = f"chunk {digest} does not match its content (got {actual})"
    raise DigestMismatch(message, details={"digest": digest, "actual": actual})
