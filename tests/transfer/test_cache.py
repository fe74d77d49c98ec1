"""The pull cache: pulled files linked in (or copied across file systems), chunks found again by sha256, the
least recently used entries pruned first, and pulls that stay correct when entries vanish or are damaged."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import modelreg
from modelreg.client.client import Client
from modelreg.digest import Digest, sha256_bytes
from modelreg.settings import Settings
from modelreg.transfer.cache import ChunkCache


class _Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _entry(cache: ChunkCache, path: Path, data: bytes) -> Digest:
    """What a pull does with a one-chunk file: make it an entry, then index its chunk once written."""
    path.write_bytes(b"")
    [entry] = cache.adopt([path])
    assert entry is not None and not entry.copy
    path.write_bytes(data)
    digest = sha256_bytes(data)
    cache.keep([(entry, 0, digest, data)])
    cache.flush()
    return digest


def _holds(cache: ChunkCache, digest: Digest) -> bool:
    return digest in cache.find([digest])


def _read(cache: ChunkCache, digest: Digest) -> bytes | None:
    return cache.read(digest, cache.find([digest]).get(digest, ()))


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


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    with modelreg.connect(tmp_path / "reg", cache_dir=tmp_path / "cache") as client:
        yield client


def test_a_pulled_file_and_its_entry_are_one_inode_and_outlive_each_other(
    client: Client, tmp_path: Path
) -> None:
    source = _model(tmp_path / "m", 1)
    client.push("m", source)
    pulled = Path(client.pull("m/1", dest=tmp_path / "p1"))
    weights = (pulled / "weights.bin").stat()
    entries = [path.stat() for path in (tmp_path / "cache" / "files").iterdir()]
    assert (weights.st_dev, weights.st_ino) in {(entry.st_dev, entry.st_ino) for entry in entries}
    assert len(entries) == 2 and weights.st_nlink == 2
    usage = ChunkCache(tmp_path / "cache").usage()
    total = sum(path.stat().st_size for path in source.iterdir())
    assert (usage.entries, usage.bytes, usage.linked_bytes) == (2, total, total)
    assert usage.chunks >= 3

    shutil.rmtree(pulled)  # the user deletes the pulled copy: the cache still holds the bytes, unlinked
    assert ChunkCache(tmp_path / "cache").usage().linked_bytes == 0
    client.pull("m/1", dest=tmp_path / "p2")
    assert client.last_pull is not None and client.last_pull.bytes_fetched == 0
    assert _same_tree(source, tmp_path / "p2")


def test_a_cache_on_another_file_system_keeps_its_own_copy(tmp_path: Path) -> None:
    other = Path(tempfile.mkdtemp(prefix="modelreg-cache-", dir="/dev/shm"))  # tmpfs: another device
    try:
        assert other.stat().st_dev != tmp_path.stat().st_dev
        with modelreg.connect(tmp_path / "reg", cache_dir=other) as client:
            source = _model(tmp_path / "m", 2)
            client.push("m", source)
            pulled = Path(client.pull("m/1", dest=tmp_path / "p1"))
            assert (pulled / "weights.bin").stat().st_nlink == 1
            copies = {path.read_bytes() for path in (other / "files").iterdir()}
            assert copies == {path.read_bytes() for path in source.iterdir()}
            (pulled / "weights.bin").write_bytes(b"edited")  # the copy does not change with the pulled file
            client.pull("m/1", dest=tmp_path / "p2")
            assert client.last_pull is not None and client.last_pull.bytes_fetched == 0
            assert _same_tree(source, tmp_path / "p2")
    finally:
        shutil.rmtree(other)


def test_an_interrupted_pull_leaves_what_it_fetched_for_the_next(client: Client, tmp_path: Path) -> None:
    source = _model(tmp_path / "m", 3)
    client.push("m", source)
    fetched: list[int] = []

    def interrupt_at_the_second_chunk(event: str, nbytes: int) -> None:
        if event == "fetched":
            fetched.append(nbytes)
            if len(fetched) == 2:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        client.pull("m/1", dest=tmp_path / "p", progress=interrupt_at_the_second_chunk)
    assert not (tmp_path / "p").exists() and not list(tmp_path.glob(".p.modelreg-partial-*"))
    client.pull("m/1", dest=tmp_path / "p")
    assert client.last_pull is not None
    assert client.last_pull.bytes_fetched == client.last_pull.bytes_total - fetched[0]  # the first chunk kept
    assert _same_tree(source, tmp_path / "p")


def test_a_file_edited_in_place_after_its_pull_is_not_served_from_the_cache(
    client: Client, tmp_path: Path
) -> None:
    source = _model(tmp_path / "m", 4)
    client.push("m", source)
    pulled = Path(client.pull("m/1", dest=tmp_path / "p1"))
    with open(pulled / "weights.bin", "r+b") as handle:  # the cache entry is this very inode
        handle.write(b"\0" * 16)
    client.pull("m/1", dest=tmp_path / "p2")
    assert client.last_pull is not None and 0 < client.last_pull.bytes_fetched < 3 * 1024 * 1024
    assert _same_tree(source, tmp_path / "p2")
    client.pull("m/1", dest=tmp_path / "p3")  # the refetched chunk was indexed in p2's entry
    assert client.last_pull.bytes_fetched == 0


def test_prune_removes_least_recently_used_first_and_a_hit_counts_as_use(tmp_path: Path) -> None:
    clock = _Clock()
    cache = ChunkCache(tmp_path / "cache", clock=clock)
    oldest = _entry(cache, tmp_path / "a", b"a" * 1000)
    clock.now += 100
    _entry(cache, tmp_path / "b", b"b" * 1000)
    clock.now += 100
    _entry(cache, tmp_path / "c", b"c" * 1000)
    clock.now += 100
    assert _read(cache, oldest) == b"a" * 1000  # a hit: "a" is now the most recently used
    assert cache.trim() is None  # records the use; unbounded, so nothing is pruned
    usage = cache.prune(max_bytes=2000)
    assert (usage.entries, usage.bytes, usage.removed_entries, usage.removed_bytes) == (2, 2000, 1, 1000)
    assert _holds(cache, oldest) and not _holds(cache, sha256_bytes(b"b" * 1000))
    assert (tmp_path / "b").stat().st_nlink == 1 and (tmp_path / "b").read_bytes() == b"b" * 1000


def test_prune_by_age_keeps_recent_entries_whatever_the_size(tmp_path: Path) -> None:
    clock = _Clock()
    cache = ChunkCache(tmp_path / "cache", clock=clock)
    _entry(cache, tmp_path / "old", b"o" * 500)
    clock.now += 3600
    recent = _entry(cache, tmp_path / "new", b"n" * 5000)
    usage = cache.prune(unused_for=1800)
    assert (usage.entries, usage.bytes, usage.removed_entries, usage.removed_bytes) == (1, 5000, 1, 500)
    assert _holds(cache, recent)


def test_clear_removes_entries_and_leftovers_and_keeps_the_stat_cache(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    cache = ChunkCache(root)
    kept = _entry(cache, tmp_path / "a", b"a" * 100)
    gone = _entry(cache, tmp_path / "b", b"b" * 200)
    (tmp_path / "b").unlink()
    next(path for path in (root / "files").iterdir() if path.read_bytes() == b"b" * 200).unlink()
    (root / "files" / "999").write_bytes(b"an interrupted removal's file")
    (root / "chunks" / "ab").mkdir(parents=True)  # an older version's cache
    (root / "chunks" / "ab" / ("ab" * 32)).write_bytes(b"x")
    (root / "cache-usage.json").write_text("{}")
    (root / "stat-cache.json").write_text("{}")
    assert _read(cache, gone) is None and _holds(cache, kept)

    usage = cache.clear()
    assert (usage.entries, usage.chunks, usage.bytes, usage.removed_entries, usage.removed_bytes) == (
        0,
        0,
        0,
        1,
        100,
    )
    assert sorted(path.name for path in root.iterdir() if not path.name.startswith("index.db")) == [
        "files",
        "stat-cache.json",
    ]
    assert not any((root / "files").iterdir())
    assert (tmp_path / "a").read_bytes() == b"a" * 100  # the pulled file is the user's: untouched


def test_only_a_bounded_cache_that_grew_past_its_bound_is_pruned(tmp_path: Path) -> None:
    unbounded = ChunkCache(tmp_path / "u")
    _entry(unbounded, tmp_path / "u1", b"u" * 300)
    assert unbounded.trim() is None and unbounded.usage().bytes == 300

    clock = _Clock()
    bounded = ChunkCache(tmp_path / "b", max_bytes=1000, clock=clock)
    _entry(bounded, tmp_path / "b1", b"1" * 400)
    assert bounded.trim() is None  # 400 of 1,000
    clock.now += 1
    _entry(bounded, tmp_path / "b2", b"2" * 400)
    clock.now += 1
    _entry(bounded, tmp_path / "b3", b"3" * 400)
    pruned = bounded.trim()  # 1,200 > 1,000: down to 900 at most, oldest first
    assert pruned is not None
    assert (pruned.entries, pruned.bytes, pruned.removed_entries, pruned.removed_bytes) == (2, 800, 1, 400)
    assert bounded.trim() is None  # nothing added since
    with pytest.raises(ValueError, match="max_bytes"):
        ChunkCache(tmp_path / "c", max_bytes=-1)


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
        # The second pull evicted the first version's weights: pulling it again fetches them.
        client.pull("m/1", dest=tmp_path / "p1-again")
        assert (
            client.last_pull is not None
            and 0 < client.last_pull.bytes_fetched <= client.last_pull.bytes_total
        )
        assert ChunkCache(cache_dir).usage().bytes <= bound
        assert _same_tree(first, tmp_path / "p1-again") and _same_tree(second, tmp_path / "p2")


def test_a_pull_fetches_what_another_process_pruned_from_the_cache(client: Client, tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
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


def test_a_damaged_index_is_replaced_by_an_empty_cache(client: Client, tmp_path: Path) -> None:
    source = _model(tmp_path / "m", 5)
    client.push("m", source)
    client.pull("m/1", dest=tmp_path / "p1")
    client.close()  # the index is closed; then damaged by something else
    (tmp_path / "cache" / "index.db").write_bytes(b"not a database" * 100)
    for leftover in (tmp_path / "cache").glob("index.db-*"):
        leftover.unlink()
    with modelreg.connect(tmp_path / "reg", cache_dir=tmp_path / "cache") as again:
        again.pull("m/1", dest=tmp_path / "p2")
        assert again.last_pull is not None and again.last_pull.bytes_fetched == again.last_pull.bytes_total
        again.pull("m/1", dest=tmp_path / "p3")
        assert again.last_pull.bytes_fetched == 0
    assert _same_tree(source, tmp_path / "p3") and _same_tree(source, tmp_path / "p1")


def test_concurrent_pulls_share_one_cache(tmp_path: Path) -> None:
    """Four clients (each its own index connection, as separate processes would have) pull into one cache
    at once; every pull is whole, and afterwards every version is served from the cache."""
    sources = [_model(tmp_path / f"m{n}", n) for n in range(4)]
    with modelreg.connect(tmp_path / "reg") as client:
        for source in sources:
            client.push("m", source)

    def pull(number: int) -> int:
        with modelreg.connect(tmp_path / "reg", cache_dir=tmp_path / "cache") as puller:
            puller.pull(f"m/{number + 1}", dest=tmp_path / f"p{number}")
            assert puller.last_pull is not None
            return puller.last_pull.bytes_fetched

    with ThreadPoolExecutor(4) as pool:
        fetched = list(pool.map(pull, range(4)))
    assert all(amount > 0 for amount in fetched)
    assert all(_same_tree(source, tmp_path / f"p{n}") for n, source in enumerate(sources))
    with modelreg.connect(tmp_path / "reg", cache_dir=tmp_path / "cache") as client:
        for number in range(4):
            client.pull(f"m/{number + 1}", dest=tmp_path / f"again{number}")
            assert client.last_pull is not None and client.last_pull.bytes_fetched == 0
    assert ChunkCache(tmp_path / "cache").usage().entries == 8  # the second pulls linked nothing new


@pytest.mark.parametrize("kind", ["a file", "an index that cannot be opened"])
def test_a_cache_that_cannot_be_used_never_fails_a_pull(tmp_path: Path, kind: str) -> None:
    cache_dir = tmp_path / "cache"
    if kind == "a file":
        cache_dir.write_text("not a directory")
    else:
        (cache_dir / "index.db").mkdir(parents=True)
    with modelreg.connect(tmp_path / "reg", cache_dir=cache_dir) as client:
        source = _model(tmp_path / "m", 6)
        client.push("m", source)
        for dest in ("p1", "p2"):
            client.pull("m/1", dest=tmp_path / dest)
            assert client.last_pull is not None
            assert client.last_pull.bytes_fetched == client.last_pull.bytes_total  # nothing cached
            assert _same_tree(source, tmp_path / dest)
