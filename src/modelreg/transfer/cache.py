"""The local pull cache: earlier pulls' files, shared with them by hard links, and an index of which chunk
lies where in them, so that a pull reads from the store only the chunks this machine has never pulled.

    <cache_dir>/
        files/<id>       an entry: a pulled file (a hard link to it), or a copy where no link can be made
        index.db         SQLite: each entry's chunks (sha256, offset, size) and when a pull last used it

A pull makes each file it assembles an entry as soon as the file is created (unless the cache holds all of
its chunks already), and indexes each chunk once it is verified and written. So a pulled file and its entry
are one inode: caching costs no second copy of the bytes and no disk beyond what the pull wrote, and an
interrupted pull leaves what it fetched in the cache for the next one. Where no link can be made (the
cache on another file system than the destination), the entry is a copy, written chunk by chunk beside the
pulled file. The cache never writes to a linked entry.

Every read is verified: a chunk whose bytes no longer match (the pulled file was edited in place, a write
was torn) is dropped from the index and fetched from the store. Entries may vanish at any moment (another
process pruning): a pull then fetches the chunk from the store, as for a damaged one. The cache is best
effort throughout: one that cannot be read or written (full disk, read-only, a damaged index) never fails
a pull; a damaged index is deleted with the entries it described and the cache starts empty.

Size: an entry counts the bytes of the chunks indexed in it (a linked entry's bytes are on disk once, for
the pulled file and the cache together, until the pulled file is deleted). ``prune`` removes the least
recently used entries down to a size, and/or those unused for a while (``modelreg cache prune``); a cache
given ``max_bytes`` (``MODELREG_CACHE_MAX_BYTES``) prunes itself to 90 % of the bound after a pull that
took it over. Whole entries go, so a bound smaller than one pulled file keeps none of it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelreg.digest import Digest, digest_hex, sha256_bytes

__all__ = ["CacheEntry", "CacheUsage", "ChunkCache", "Place", "default_cache_dir"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: a new entry never meets an old one's file
    bytes INTEGER NOT NULL DEFAULT 0,   -- of the chunks indexed in it
    used REAL NOT NULL                  -- when a pull last wrote or read it (Unix time)
);
CREATE TABLE IF NOT EXISTS chunks (
    entry INTEGER NOT NULL,
    position INTEGER NOT NULL,          -- the chunk's offset in the entry's file
    digest TEXT NOT NULL,               -- its sha256, hex
    size INTEGER NOT NULL,
    PRIMARY KEY (entry, position)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS chunks_by_digest ON chunks (digest);
"""
_RECOUNT = (
    "UPDATE entries SET bytes = (SELECT coalesce(sum(size), 0) FROM chunks WHERE entry = ?) WHERE id = ?"
)
_FIND = "SELECT digest, entry, position, size FROM chunks WHERE digest IN (SELECT value FROM json_each(?))"
_PENDING_CHUNKS = 256  # kept chunks indexed in one transaction ...
_PENDING_BYTES = 64 * 1024 * 1024  # ... or fewer, once they hold this much (what a crash may lose)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
# A cache that cannot be used (a directory that cannot be created or written, an index that cannot be
# opened or is locked too long) is skipped: every operation catches these and carries on without it.
_UNUSABLE = (sqlite3.Error, OSError)


def default_cache_dir() -> Path:
    """Where an HTTP registry's pull cache lives unless ``MODELREG_CACHE_DIR`` says otherwise."""
    return Path.home() / ".cache" / "modelreg"


@dataclass(frozen=True, slots=True)
class CacheUsage:
    """What a cache holds (``entries`` files holding ``chunks`` chunks, ``bytes`` in all, of which
    ``linked_bytes`` in entries that are also a pulled file) and, after a prune, what it removed."""

    entries: int
    chunks: int
    bytes: int
    linked_bytes: int = 0
    removed_entries: int = 0
    removed_bytes: int = 0

    def to_dict(self) -> dict[str, int]:
        return {
            "entries": self.entries,
            "chunks": self.chunks,
            "bytes": self.bytes,
            "linked_bytes": self.linked_bytes,
            "removed_entries": self.removed_entries,
            "removed_bytes": self.removed_bytes,
        }


Place = tuple[int, int, int]  # where a chunk is: (entry, offset, size)


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """A file being pulled, as a cache entry: ``copy`` when the cache holds its own copy (no link)."""

    id: int
    copy: bool


class ChunkCache:
    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        max_bytes: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_bytes is not None and max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        self.root = Path(root)
        self.max_bytes = max_bytes
        self._clock = clock
        self._files = self.root / "files"
        self._index = self.root / "index.db"
        self._db: sqlite3.Connection | None = None
        self._lock = threading.RLock()  # one connection, shared by a pull's threads
        self._used: set[int] = set()  # entries read since the last trim
        self._grew = False  # chunks indexed since the last trim
        self._pending: list[tuple[int, int, str, int]] = []  # kept, not yet indexed
        self._pending_bytes = 0

    # -- reading ------------------------------------------------------------------------------------------

    def find(self, digests: Iterable[Digest]) -> dict[Digest, list[Place]]:
        """Where the cache has each of these chunks (entry, offset, size), in one query; absent ones are left
        out. Places are checked only when read: ``read`` verifies."""
        wanted = json.dumps(sorted({digest_hex(digest) for digest in digests}))
        places: dict[Digest, list[Place]] = {}
        for hexdigest, entry, position, size in self._query(_FIND, (wanted,), create=False):
            places.setdefault(Digest("sha256:" + hexdigest), []).append((entry, position, size))
        return places

    def read(self, digest: Digest, places: Iterable[Place]) -> bytes | None:
        """The chunk's verified bytes from the first intact place ``find`` gave, or None; a damaged place is
        dropped from the index, and an entry whose file is gone with all its places."""
        for entry, position, size in places:
            try:
                fd = os.open(self._files / str(entry), os.O_RDONLY | _O_CLOEXEC)
            except FileNotFoundError:  # removed by hand, or pruned meanwhile: none of its chunks is there
                self._remove([entry])
                continue
            except OSError:
                continue
            try:
                data = os.pread(fd, size, position)
            except OSError:
                data = b""
            finally:
                os.close(fd)
            if len(data) == size and sha256_bytes(data) == digest:
                with self._lock:
                    self._used.add(entry)
                return data
            with contextlib.suppress(*_UNUSABLE), self._transaction() as db:  # damaged: forget this place
                db.execute("DELETE FROM chunks WHERE entry = ? AND position = ?", (entry, position))
                db.execute(_RECOUNT, (entry, entry))
        return None

    # -- writing (by a pull) ------------------------------------------------------------------------------

    def adopt(self, paths: Sequence[Path]) -> list[CacheEntry | None]:
        """Make each file a pull is about to write an entry: a hard link to it, else an empty copy that
        ``keep`` fills. None for a file the cache cannot take (it never fails the pull)."""
        if not paths:
            return []
        try:
            with self._transaction() as db:
                now = self._clock()
                ids = [db.execute("INSERT INTO entries (used) VALUES (?)", (now,)).lastrowid for _ in paths]
            self._files.mkdir(parents=True, exist_ok=True)
        except _UNUSABLE:
            return [None] * len(paths)
        return [
            self._link(entry, path) if entry is not None else None
            for entry, path in zip(ids, paths, strict=True)
        ]

    def _link(self, entry: int, path: Path) -> CacheEntry | None:
        name = self._files / str(entry)
        try:
            os.link(path, name)
            return CacheEntry(entry, copy=False)
        except OSError:
            pass
        try:  # another file system, or one without hard links: the cache keeps its own copy
            os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_CLOEXEC, 0o644))
            return CacheEntry(entry, copy=True)
        except OSError:
            return None

    def keep(self, written: Sequence[tuple[CacheEntry, int, Digest, bytes]]) -> None:
        """Index chunks a pull verified and wrote: (entry, offset, digest, bytes); a copy entry is written
        first. Indexed in groups (up to 256 chunks or 64 MiB wait here until ``flush``), since a
        pull of many small cached files keeps one chunk at a time. An entry pruned meanwhile takes nothing."""
        rows = []
        for entry, offset, digest, data in written:
            if entry.copy and not self._write_copy(entry, offset, data):
                continue
            rows.append((entry.id, offset, digest_hex(digest), len(data)))
        with self._lock:
            self._pending.extend(rows)
            self._pending_bytes += sum(row[3] for row in rows)
            if len(self._pending) < _PENDING_CHUNKS and self._pending_bytes < _PENDING_BYTES:
                return
        self.flush()

    def flush(self) -> None:
        """Index what ``keep`` holds back (``trim`` and ``close`` do this too)."""
        with self._lock:
            rows, self._pending, self._pending_bytes = self._pending, [], 0
            if not rows:
                return
            try:
                with self._transaction() as db:
                    db.executemany("INSERT OR REPLACE INTO chunks VALUES (?, ?, ?, ?)", rows)
                    for owner in {row[0] for row in rows}:
                        if not db.execute(_RECOUNT, (owner, owner)).rowcount:  # pruned meanwhile
                            db.execute("DELETE FROM chunks WHERE entry = ?", (owner,))
                self._grew = True
            except _UNUSABLE:
                pass

    def _write_copy(self, entry: CacheEntry, offset: int, data: bytes) -> bool:
        try:
            fd = os.open(self._files / str(entry.id), os.O_WRONLY | _O_CLOEXEC)
            try:
                view = memoryview(data)
                while view:
                    written = os.pwrite(fd, view, offset)
                    view, offset = view[written:], offset + written
            finally:
                os.close(fd)
        except OSError:
            return False
        return True

    def trim(self) -> CacheUsage | None:
        """After a pull: record when its entries were used, then, if it took a bounded cache over its bound,
        remove the least recently used entries down to 90 % of it. None when nothing was pruned."""
        self.flush()
        with self._lock:
            used, self._used = self._used, set()
            grew, self._grew = self._grew, False
        try:
            if used:
                now = self._clock()
                marks = [(now, entry, now) for entry in used]
                with contextlib.suppress(*_UNUSABLE), self._transaction() as db:
                    db.executemany("UPDATE entries SET used = ? WHERE id = ? AND used < ?", marks)
            if self.max_bytes is None or not grew:
                return None
            counted = self._query("SELECT coalesce(sum(bytes), 0) FROM entries", (), create=False)
            if not counted or counted[0][0] <= self.max_bytes:  # (none when the index cannot be read)
                return None
            return self.prune(max_bytes=self.max_bytes * 9 // 10)
        except _UNUSABLE:  # best effort, like every write: never fails a pull
            return None

    # -- housekeeping -------------------------------------------------------------------------------------

    def usage(self) -> CacheUsage:
        entries = self._query("SELECT id, bytes FROM entries", (), create=False)
        chunks = self._query("SELECT count(*) FROM chunks", (), create=False)
        linked = 0
        for entry, size in entries:
            with contextlib.suppress(OSError):
                if os.stat(self._files / str(entry)).st_nlink > 1:
                    linked += size
        return CacheUsage(
            len(entries), chunks[0][0] if chunks else 0, sum(size for _, size in entries), linked_bytes=linked
        )

    def prune(self, *, max_bytes: int | None = None, unused_for: float | None = None) -> CacheUsage:
        """Remove entries unused for ``unused_for`` seconds, then the least recently used ones until at
        most ``max_bytes`` are left. Also removes what no entry accounts for: entries whose file is gone,
        files without an entry (a prune interrupted between the two), and an older version's ``chunks/``.
        Safe while pulls run. An entry whose file cannot be removed is counted as left."""
        self._sweep()
        entries = self._query("SELECT id, bytes, used FROM entries ORDER BY used, id", (), create=False)
        total = sum(size for _, size, _ in entries)
        cutoff = self._clock() - unused_for if unused_for is not None else None
        victims: dict[int, int] = {}
        for entry, size, used in entries:
            too_old = cutoff is not None and used < cutoff
            if not too_old and (max_bytes is None or total <= max_bytes):
                break  # by last use: every later entry is newer, and the size already fits
            victims[entry] = size
            total -= size
        removed = self._remove(victims)
        usage = self.usage()
        removed_bytes = sum(victims[entry] for entry in removed)
        return CacheUsage(
            usage.entries, usage.chunks, usage.bytes, usage.linked_bytes, len(removed), removed_bytes
        )

    def clear(self) -> CacheUsage:
        """Remove every entry (the stat cache beside them stays)."""
        return self.prune(max_bytes=0)

    def close(self) -> None:
        self.flush()
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _remove(self, entries: Iterable[int]) -> list[int]:
        """Forget entries, then delete their files (a reader between the two finds the chunks unindexed);
        those removed. An entry whose file cannot be deleted is forgotten all the same (the next prune's
        sweep deletes the file), but not counted as removed."""
        rows = [(entry,) for entry in entries]
        try:
            with self._transaction() as db:
                db.executemany("DELETE FROM chunks WHERE entry = ?", rows)
                db.executemany("DELETE FROM entries WHERE id = ?", rows)
        except _UNUSABLE:
            return []
        removed = []
        for (entry,) in rows:
            try:
                os.unlink(self._files / str(entry))
            except FileNotFoundError:
                pass
            except OSError:
                continue
            removed.append(entry)
        return removed

    def _sweep(self) -> None:
        # Files first, then entries: a pull inserts an entry before it links the file, so a file listed
        # here without an entry read after it was left by an interrupted removal, not a pull in progress.
        with contextlib.suppress(FileNotFoundError):
            names = {entry.name for entry in os.scandir(self._files)}
            known = {str(entry) for (entry,) in self._query("SELECT id FROM entries", (), create=False)}
            for name in names - known:
                with contextlib.suppress(OSError):
                    os.unlink(self._files / name)
            # (and an entry only if its file is still missing: not one a pull linked after the listing)
            self._remove(int(name) for name in known - names if not (self._files / name).exists())
        shutil.rmtree(self.root / "chunks", ignore_errors=True)  # an older version's cache of chunk files
        with contextlib.suppress(OSError):
            (self.root / "cache-usage.json").unlink()

    # -- the index ----------------------------------------------------------------------------------------

    def _connect(self, *, create: bool) -> sqlite3.Connection | None:
        with self._lock:
            if self._db is None:
                if not create and not self._index.exists():
                    return None
                self.root.mkdir(parents=True, exist_ok=True)
                try:
                    self._db = self._open()
                except sqlite3.DatabaseError as error:
                    if isinstance(error, sqlite3.OperationalError):
                        raise  # locked, or a read-only directory: not damage
                    self._reset()  # not a database, or a damaged one: start again, empty
                    self._db = self._open()
            return self._db

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self._index, timeout=30, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")  # the cache is disposable; a lost commit is a miss
            db.executescript(_SCHEMA)
        except BaseException:
            db.close()
            raise
        return db

    def _reset(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{self._index}{suffix}")
        shutil.rmtree(self._files, ignore_errors=True)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            db = self._connect(create=True)
            assert db is not None
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):  # (a failed COMMIT must not leave it open)
                    db.execute("ROLLBACK")
                raise

    def _query(self, sql: str, parameters: Sequence[object], *, create: bool) -> list[tuple[Any, ...]]:
        """Rows of a read; none when the cache has no index yet, or it cannot be read."""
        with self._lock:
            try:
                db = self._connect(create=create)
                return db.execute(sql, parameters).fetchall() if db is not None else []
            except _UNUSABLE:
                return []
