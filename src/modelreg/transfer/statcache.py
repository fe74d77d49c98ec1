"""The stat cache: whole-file sha256s of files already pushed, so an unchanged file is not read again.

    <dir>/stat-cache.json   {"<absolute path>": [device, inode, size, mtime_ns, ctime_ns, "sha256:…"], …}

Git's index does the same for ``git status``. An entry is used only while every one of those five stat
fields is unchanged. Rewriting a file changes its ctime (which no user call can set back, unlike mtime),
replacing it changes its inode, so a changed file is always hashed again, whatever its size and mtime.

The one hole is a file rewritten within the file system's timestamp granularity of the moment it was
stat'ed: its stat fields may not change. Git calls these entries *racily clean*; here such a file is simply
not remembered: a file whose mtime or ctime is less than ``RACY_NS`` before the push started is hashed again
next time. Two seconds covers the coarsest common granularity (FAT) and some clock skew on network mounts.

The file is a cache: it is replaced atomically (temp file + rename, no fsync), a corrupt or unreadable one
is ignored, and two concurrent pushes can only lose each other's entries, never mix them.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path

from modelreg.digest import Digest
from modelreg.transfer.scan import LocalFile

__all__ = ["RACY_NS", "StatCache"]

RACY_NS = 2_000_000_000
_MAX_ENTRIES = 200_000  # ~30 MB of JSON; beyond it the oldest entries go first
_Key = tuple[int, int, int, int, int]


class StatCache:
    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.path = Path(directory) / "stat-cache.json"

    def lookup(self, files: Iterable[LocalFile]) -> dict[LocalFile, Digest]:
        """The remembered digest of each file whose stat fields all still match; the others are absent."""
        entries = self._load()
        found: dict[LocalFile, Digest] = {}
        for local in files:
            entry = entries.get(_name(local))
            if entry is not None and tuple(entry[:5]) == _key(local):
                found[local] = Digest(str(entry[5]))
        return found

    def remember(self, digests: Mapping[LocalFile, str], *, pushed_at_ns: int) -> None:
        """Record these files' digests. ``pushed_at_ns`` is ``time.time_ns()`` taken before the files were
        stat'ed: files changed less than ``RACY_NS`` before it are left out (see the module docstring)."""
        fresh = {
            _name(local): [*_key(local), digest]
            for local, digest in digests.items()
            if pushed_at_ns - max(local.mtime_ns, local.ctime_ns) >= RACY_NS
        }
        if not fresh:
            return
        entries = self._load()
        for name in fresh:
            entries.pop(name, None)  # re-inserted last: the newest entries survive trimming
        entries.update(fresh)
        if len(entries) > _MAX_ENTRIES:
            entries = dict(list(entries.items())[-_MAX_ENTRIES:])
        self._save(entries)

    def _load(self) -> dict[str, list[object]]:
        try:
            document = json.loads(self.path.read_bytes())
        except (OSError, ValueError):
            return {}
        if not isinstance(document, dict):
            return {}
        return {
            name: entry
            for name, entry in document.items()
            if isinstance(entry, list) and len(entry) == 6 and isinstance(entry[5], str)
        }

    def _save(self, entries: dict[str, list[object]]) -> None:
        """Best effort: a cache that cannot be written (read-only, full disk) never fails a push."""
        temp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(6)}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temp.write_text(json.dumps(entries, separators=(",", ":")))
            os.replace(temp, self.path)
        except OSError:
            with contextlib.suppress(OSError):
                temp.unlink()


def _name(local: LocalFile) -> str:
    return os.path.abspath(local.source)


def _key(local: LocalFile) -> _Key:
    return (local.device, local.inode, local.size, local.mtime_ns, local.ctime_ns)
