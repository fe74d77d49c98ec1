"""The local pull cache: chunks by sha256, so a pull reads from the store only what it has never seen.

    <cache_dir>/
        chunks/ab/abcdef…   one file per chunk, named by its sha256 hex

Entries are published atomically (temp file + rename) without fsync: the cache is disposable, and every
read is verified, so a torn or corrupted entry is detected, dropped and fetched again, never served.

Size: each hit sets the entry's mtime, so mtimes order entries by last use. ``prune`` removes the least
recently used entries down to a size, and/or those unused for a while (``modelreg cache prune``). A cache
given ``max_bytes`` (``MODELREG_CACHE_MAX_BYTES``) trims itself after every pull that added to it: it adds
what it put to the size last counted (``cache-usage.json``), and scans and prunes (to 90 % of the bound)
only when that passes the bound or the count is an hour old, since a scan costs ~20 µs per entry here. So
it exceeds the bound during a pull by at most what that pull adds, and, with concurrent pullers that
overwrite each other's count, until the next recount. Entries may vanish at any moment (another process
pruning): a pull then fetches the chunk from the store, as for a corrupt entry.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from modelreg.digest import Digest, digest_hex, sha256_bytes

__all__ = ["CacheUsage", "ChunkCache", "default_cache_dir"]

_STALE_TEMP_SECONDS = 3600.0  # a temp file this old is a crashed writer's leftover
_RECOUNT_SECONDS = 3600.0  # a bounded cache's size is counted again when its last count is this old


def default_cache_dir() -> Path:
    """Where an HTTP registry's pull cache lives unless ``MODELREG_CACHE_DIR`` says otherwise."""
    return Path.home() / ".cache" / "modelreg"


@dataclass(frozen=True, slots=True)
class CacheUsage:
    """What a cache holds (``entries`` chunks, ``bytes`` in all) and, after a prune, what it removed."""

    entries: int
    bytes: int
    removed_entries: int = 0
    removed_bytes: int = 0

    def to_dict(self) -> dict[str, int]:
        return {
            "entries": self.entries,
            "bytes": self.bytes,
            "removed_entries": self.removed_entries,
            "removed_bytes": self.removed_bytes,
        }


class ChunkCache:
    def __init__(self, root: str | os.PathLike[str], *, max_bytes: int | None = None) -> None:
        if max_bytes is not None and max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        self.root = Path(root)
        self.max_bytes = max_bytes
        self._chunks = self.root / "chunks"
        self._usage_file = self.root / "cache-usage.json"
        self._added = 0  # bytes put since the last trim
        self._lock = threading.Lock()

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
        with contextlib.suppress(OSError):
            os.utime(path)  # used now: the last to be pruned
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
            return
        with self._lock:
            self._added += len(data)

    def trim(self) -> CacheUsage | None:
        """After a pull that added chunks to a bounded cache: the size is estimated from the last count
        (``cache-usage.json``) plus what this cache added; only when that passes ``max_bytes`` (or the
        count is over an hour old) is the directory scanned and pruned, to 90 % of the bound so that the
        next pulls do not scan again at once. None when nothing was scanned."""
        with self._lock:
            added, self._added = self._added, 0
        if self.max_bytes is None or not added:
            return None
        try:
            counted = self._counted()
            if counted is not None and counted + added <= self.max_bytes:
                self._count(counted + added)
                return None
            return self.prune(max_bytes=self.max_bytes * 9 // 10)
        except OSError:  # best effort, like put: an unreadable cache never fails a pull
            return None

    def _counted(self) -> int | None:
        """The bytes the last count found, if it is recent; None when a scan is due."""
        try:
            if time.time() - self._usage_file.stat().st_mtime > _RECOUNT_SECONDS:
                return None
            counted = json.loads(self._usage_file.read_text())["bytes"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return counted if isinstance(counted, int) and counted >= 0 else None

    def _count(self, total: int) -> None:
        """Remember the cache's size (atomically; concurrent pulls may each overwrite the other's figure,
        which the hourly recount corrects)."""
        temp = self._usage_file.with_name(f".{self._usage_file.name}.{secrets.token_hex(6)}.tmp")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            temp.write_text(json.dumps({"bytes": total}))
            os.replace(temp, self._usage_file)
        except OSError:
            with contextlib.suppress(OSError):
                temp.unlink()

    def usage(self) -> CacheUsage:
        entries = self._entries()
        return CacheUsage(len(entries), sum(size for _, size, _ in entries))

    def prune(self, *, max_bytes: int | None = None, unused_for: float | None = None) -> CacheUsage:
        """Remove entries unused for ``unused_for`` seconds, then the least recently used ones until at
        most ``max_bytes`` are left; stale temp files go too. Best effort: an entry that cannot be removed
        is counted as left."""
        entries = sorted(self._entries(sweep=True), key=lambda entry: entry[2])  # least recently used first
        total = sum(size for _, size, _ in entries)
        cutoff = time.time() - unused_for if unused_for is not None else None
        removed = removed_bytes = 0
        for path, size, used in entries:
            too_old = cutoff is not None and used < cutoff
            if not too_old and (max_bytes is None or total <= max_bytes):
                break  # sorted by use: every later entry is newer, and the size already fits
            try:
                path.unlink()
            except FileNotFoundError:
                pass  # pruned by another process meanwhile
            except OSError:
                continue
            total -= size
            removed += 1
            removed_bytes += size
        self._count(total)
        return CacheUsage(len(entries) - removed, total, removed, removed_bytes)

    def clear(self) -> CacheUsage:
        """Remove every cached chunk (the stat cache beside them stays)."""
        return self.prune(max_bytes=0)

    def _entries(self, *, sweep: bool = False) -> list[tuple[Path, int, float]]:
        """(path, size, last use) of every entry; with ``sweep``, crashed writers' temp files are removed."""
        found: list[tuple[Path, int, float]] = []
        now = time.time()
        with contextlib.suppress(FileNotFoundError), os.scandir(self._chunks) as shards:
            for shard in shards:
                if not shard.is_dir(follow_symlinks=False):
                    continue
                with contextlib.suppress(FileNotFoundError), os.scandir(shard.path) as names:
                    for entry in names:
                        try:
                            info = entry.stat(follow_symlinks=False)
                        except FileNotFoundError:
                            continue
                        if entry.name.startswith("."):
                            if sweep and now - info.st_mtime > _STALE_TEMP_SECONDS:
                                with contextlib.suppress(OSError):
                                    os.unlink(entry.path)
                            continue
                        found.append((Path(entry.path), info.st_size, info.st_mtime))
        return found
