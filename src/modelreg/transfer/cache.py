"""The local pull cache: chunks by sha256, so a pull reads from the store only what it has never seen.

    <cache_dir>/
        chunks/ab/abcdef…   one file per chunk, named by its sha256 hex

Entries are published atomically (temp file + rename) without fsync: the cache is disposable, and every
read is verified, so a torn or corrupted entry is detected, dropped and fetched again, never served.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from modelreg.digest import Digest, digest_hex, sha256_bytes

__all__ = ["ChunkCache"]


class ChunkCache:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self._chunks = self.root / "chunks"

    def _path(self, digest: Digest) -> Path:
        hexdigest = digest_hex(digest)
        return self._chunks / hexdigest[:2] / hexdigest

    def holds(self, digest: Digest) -> bool:
        """Whether an entry exists (not whether it is intact: ``get`` verifies)."""
        return self._path(digest).exists()

    def get(self, digest: Digest) -> bytes | None:
        """The verified bytes, or None when absent or corrupt (a corrupt entry is removed)."""
        path = self._path(digest)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        if sha256_bytes(data) != digest:
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        return data

    def put(self, digest: Digest, data: bytes | memoryview) -> None:
        """Best effort: a cache that cannot be written (full disk, read-only) never fails a pull."""
        path = self._path(digest)
        if path.exists():
            return
        temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temp.write_bytes(data)
            os.replace(temp, path)
        except OSError:
            with contextlib.suppress(OSError):
                temp.unlink()
