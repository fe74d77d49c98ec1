"""The stat cache never vouches for a changed file, and spares re-reading an unchanged one."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import modelreg
from modelreg.digest import sha256_bytes
from modelreg.transfer.scan import LocalFile, scan
from modelreg.transfer.statcache import RACY_NS, StatCache

LATER = 10 * RACY_NS  # a push that starts well after the files were written: none of them is racy


def _age(path: Path, seconds: float = 60.0) -> None:
    """Backdate mtime, as if the file was written a while ago (ctime still moves to now: see _settle)."""
    stamp = time.time() - seconds
    os.utime(path, (stamp, stamp))


def _remember(cache: StatCache, root: Path, *, at_ns: int | None = None) -> list[LocalFile]:
    files = scan(root)
    digests = {f: sha256_bytes(f.source.read_bytes()) for f in files}
    cache.remember(digests, pushed_at_ns=at_ns if at_ns is not None else time.time_ns() + LATER)
    return files


def test_an_unchanged_file_is_remembered(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "w.bin").write_bytes(b"weights")
    cache = StatCache(tmp_path / "cache")
    files = _remember(cache, tmp_path / "m")
    assert cache.lookup(scan(tmp_path / "m")) == {files[0]: sha256_bytes(b"weights")}


def test_new_content_of_the_same_size_and_mtime_is_not_remembered(tmp_path: Path) -> None:
    path = tmp_path / "m" / "w.bin"
    path.parent.mkdir()
    path.write_bytes(b"AAAA")
    _age(path)
    cache = StatCache(tmp_path / "cache")
    before = _remember(cache, tmp_path / "m")[0]
    time.sleep(0.01)  # ctime has ns resolution here, but give a coarse clock a tick
    path.write_bytes(b"BBBB")  # same size, same inode
    os.utime(path, ns=(before.mtime_ns, before.mtime_ns))  # and the old mtime put back
    after = scan(tmp_path / "m")[0]
    assert (after.size, after.mtime_ns, after.inode) == (before.size, before.mtime_ns, before.inode)
    assert after.ctime_ns != before.ctime_ns
    assert cache.lookup([after]) == {}


def test_a_replaced_file_is_not_remembered(tmp_path: Path) -> None:
    path = tmp_path / "m" / "w.bin"
    path.parent.mkdir()
    path.write_bytes(b"AAAA")
    cache = StatCache(tmp_path / "cache")
    before = _remember(cache, tmp_path / "m")[0]
    replacement = tmp_path / "new.bin"
    replacement.write_bytes(b"BBBB")
    os.utime(replacement, ns=(before.mtime_ns, before.mtime_ns))
    os.replace(replacement, path)  # a new inode under the same name
    assert cache.lookup(scan(tmp_path / "m")) == {}


def test_a_file_changed_just_before_the_push_is_not_remembered(tmp_path: Path) -> None:
    """Racily clean (git's term): a write in the same timestamp tick as the stat could leave it unchanged."""
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "w.bin").write_bytes(b"weights")
    cache = StatCache(tmp_path / "cache")
    _remember(cache, tmp_path / "m", at_ns=time.time_ns())
    assert cache.lookup(scan(tmp_path / "m")) == {}
    assert not cache.path.exists()


@pytest.mark.parametrize("content", [b"", b"not json", b"[1, 2]", b'{"/x": [1, 2]}'])
def test_a_damaged_cache_file_is_ignored_and_replaced(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "w.bin").write_bytes(b"weights")
    cache = StatCache(tmp_path / "cache")
    cache.path.parent.mkdir()
    cache.path.write_bytes(content)
    assert cache.lookup(scan(tmp_path / "m")) == {}
    _remember(cache, tmp_path / "m")
    assert list(cache.lookup(scan(tmp_path / "m")).values()) == [sha256_bytes(b"weights")]


def test_a_re_push_reads_no_unchanged_file_and_still_detects_a_change(tmp_path: Path) -> None:
    model = tmp_path / "m"
    model.mkdir()
    (model / "a.bin").write_bytes(os.urandom(100_000))
    (model / "b.bin").write_bytes(b"B" * 5000)
    for path in model.iterdir():
        _age(path)
    time.sleep(RACY_NS / 1e9)  # ctime cannot be backdated: wait until it is no longer racy
    events: dict[str, int] = {}

    def progress(event: str, nbytes: int) -> None:
        events[event] = events.get(event, 0) + nbytes

    with modelreg.connect(tmp_path / "registry", actor="alice") as reg:
        first = reg.push("m", model)
        assert (tmp_path / "registry" / "stat-cache.json").is_file()
        second = reg.push("m", model, progress=progress)
        assert reg.last_push is not None
        assert (reg.last_push.bytes_hashed, reg.last_push.bytes_stored) == (0, 0)
        assert events == {"total": 105_000, "unchanged": 105_000}
        assert second.digest == first.digest

        stamp = (model / "b.bin").stat().st_mtime_ns
        (model / "b.bin").write_bytes(b"C" * 5000)  # same size, same mtime: only ctime tells
        os.utime(model / "b.bin", ns=(stamp, stamp))
        third = reg.push("m", model)
        assert reg.last_push is not None and reg.last_push.bytes_hashed == 5000
        assert {f.path: f.digest for f in third.files}["b.bin"] == sha256_bytes(b"C" * 5000)
        assert third.digest != first.digest
        pulled = Path(reg.pull("m", dest=tmp_path / "out"))
        assert (pulled / "b.bin").read_bytes() == b"C" * 5000
