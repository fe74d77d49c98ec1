"""The pull cache's bound: least recently used chunks go first, pulls stay correct when entries vanish."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import modelreg
from modelreg.digest import Digest, sha256_bytes
from modelreg.settings import Settings
from modelreg.transfer.cache import ChunkCache


def _put(cache: ChunkCache, data: bytes, *, age: float) -> Digest:
    """Store ``data`` and make it look last used ``age`` seconds ago."""
    digest = sha256_bytes(data)
    cache.put(digest, data)
    used = time.time() - age
    os.utime(cache._path(digest), (used, used))
    return digest


def test_prune_removes_least_recently_used_first_and_a_hit_counts_as_use(tmp_path: Path) -> None:
    cache = ChunkCache(tmp_path)
    oldest = _put(cache, b"a" * 1000, age=300)
    middle = _put(cache, b"b" * 1000, age=200)
    newest = _put(cache, b"c" * 1000, age=100)
    assert cache.get(oldest) == b"a" * 1000  # used now: becomes the newest
    usage = cache.prune(max_bytes=2000)
    assert (usage.entries, usage.bytes, usage.removed_entries, usage.removed_bytes) == (2, 2000, 1, 1000)
    assert not cache.holds(middle)
    assert cache.holds(oldest) and cache.holds(newest)
    assert cache.usage().to_dict() == {"entries": 2, "bytes": 2000, "removed_entries": 0, "removed_bytes": 0}


def test_prune_by_age_keeps_recent_entries_whatever_the_size(tmp_path: Path) -> None:
    cache = ChunkCache(tmp_path)
    stale = _put(cache, b"x" * 10, age=40 * 86_400)
    fresh = _put(cache, b"y" * 5000, age=60)
    usage = cache.prune(unused_for=30 * 86_400)
    assert (usage.removed_entries, usage.removed_bytes, usage.entries, usage.bytes) == (1, 10, 1, 5000)
    assert cache.holds(fresh) and not cache.holds(stale)


def test_clear_keeps_the_stat_cache_and_removes_stale_temp_files_only(tmp_path: Path) -> None:
    cache = ChunkCache(tmp_path)
    digest = _put(cache, b"z" * 100, age=0)
    shard = cache._path(digest).parent
    stale, fresh = shard / ".old.tmp", shard / ".writing.tmp"
    stale.write_bytes(b"left by a crash")
    fresh.write_bytes(b"being written")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    (tmp_path / "stat-cache.json").write_text("{}")
    usage = cache.clear()
    assert (usage.entries, usage.bytes, usage.removed_entries) == (0, 0, 1)
    assert not stale.exists() and fresh.exists()  # another process may still be writing that one
    assert (tmp_path / "stat-cache.json").read_text() == "{}"


def test_an_unbounded_cache_never_trims_and_a_bounded_one_only_after_additions(tmp_path: Path) -> None:
    unbounded = ChunkCache(tmp_path / "a")
    _put(unbounded, b"1" * 100, age=10)
    assert unbounded.trim() is None and unbounded.usage().entries == 1
    bounded = ChunkCache(tmp_path / "b", max_bytes=150)
    assert bounded.trim() is None  # nothing added yet: no scan
    _put(bounded, b"1" * 100, age=20)
    _put(bounded, b"2" * 100, age=10)
    trimmed = bounded.trim()
    assert trimmed is not None and (trimmed.entries, trimmed.bytes, trimmed.removed_entries) == (1, 100, 1)
    assert bounded.trim() is None
    with pytest.raises(ValueError, match="max_bytes"):
        ChunkCache(tmp_path / "c", max_bytes=-1)


def test_a_bounded_cache_scans_only_when_its_count_passes_the_bound(tmp_path: Path) -> None:
    cache = ChunkCache(tmp_path, max_bytes=1000)
    _put(cache, b"1" * 300, age=30)
    first = cache.trim()  # no count yet: scanned
    assert first is not None and (first.entries, first.bytes) == (1, 300)
    stray = tmp_path / "chunks" / "00" / ("00" * 32)  # an entry this cache did not put (another process)
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"s" * 500)
    os.utime(stray, (time.time() - 20, time.time() - 20))
    _put(cache, b"2" * 300, age=10)
    assert cache.trim() is None  # counted 300 + added 300 <= 1000: no scan, so the stray is not seen
    _put(cache, b"3" * 300, age=0)
    assert cache.trim() is None  # 600 + 300 <= 1000: no scan (really 1,400 bytes, with the stray)
    _put(cache, b"4" * 200, age=0)
    pruned = cache.trim()  # 900 + 200 > 1000: scanned, and pruned to 90 % of the bound
    assert pruned is not None and pruned.bytes <= 900
    assert (pruned.removed_entries, pruned.removed_bytes) == (2, 800)  # the two least recently used
    assert not cache.holds(sha256_bytes(b"1" * 300)) and not stray.exists()


def test_a_stale_count_is_recounted(tmp_path: Path) -> None:
    cache = ChunkCache(tmp_path, max_bytes=10_000)
    _put(cache, b"1" * 100, age=0)
    assert cache.trim() is not None  # first count
    old = time.time() - 2 * 3600
    os.utime(tmp_path / "cache-usage.json", (old, old))
    _put(cache, b"2" * 100, age=0)
    recount = cache.trim()
    assert recount is not None and (recount.entries, recount.bytes, recount.removed_entries) == (2, 200, 0)


def _model(root: Path, seed: int) -> Path:
    """A model of ~3 MiB (several chunks) and a small file."""
    root.mkdir(parents=True)
    (root / "weights.bin").write_bytes(os.urandom(3 * 1024 * 1024 + seed))
    (root / "config.json").write_text(f'{{"seed": {seed}}}')
    return root


def _same_tree(left: Path, right: Path) -> bool:
    files = sorted(path.relative_to(left) for path in left.rglob("*") if path.is_file())
    others = sorted(path.relative_to(right) for path in right.rglob("*") if path.is_file())
    return files == others and all((left / f).read_bytes() == (right / f).read_bytes() for f in files)


def test_a_bounded_cache_stays_within_its_bound_across_pulls(tmp_path: Path) -> None:
    bound = 4 * 1024 * 1024
    settings = Settings(cache_max_bytes=bound)
    cache_dir = tmp_path / "cache"
    with modelreg.connect(tmp_path / "reg", cache_dir=cache_dir, settings=settings) as client:
        first, second = _model(tmp_path / "m1", 1), _model(tmp_path / "m2", 2)
        client.push("m", first)
        client.push("m", second)
        client.pull("m/1", dest=tmp_path / "p1")
        assert ChunkCache(cache_dir).usage().bytes <= bound
        client.pull("m/2", dest=tmp_path / "p2")
        assert 0 < ChunkCache(cache_dir).usage().bytes <= bound
        # The second pull evicted (some of) the first version's chunks: pulling it again fetches those.
        client.pull("m/1", dest=tmp_path / "p1-again")
        assert (
            client.last_pull is not None
            and 0 < client.last_pull.bytes_fetched <= client.last_pull.bytes_total
        )
        assert ChunkCache(cache_dir).usage().bytes <= bound
        assert _same_tree(first, tmp_path / "p1-again") and _same_tree(second, tmp_path / "p2")


def test_a_pull_fetches_what_another_process_pruned_from_the_cache(tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    with modelreg.connect(tmp_path / "reg", cache_dir=cache_dir) as client:
        source = _model(tmp_path / "m", 3)
        client.push("m", source)
        client.pull("m/1", dest=tmp_path / "p1")
        assert client.last_pull is not None and client.last_pull.bytes_fetched == client.last_pull.bytes_total
        before = ChunkCache(cache_dir).usage()
        pruned = ChunkCache(cache_dir).prune(max_bytes=before.bytes // 2)
        assert pruned.removed_bytes > 0
        client.pull("m/1", dest=tmp_path / "p2")
        assert client.last_pull.bytes_fetched == pruned.removed_bytes
        assert _same_tree(source, tmp_path / "p2")
