"""The pull cache: what caching a pull costs, what a cached pull saves, and what its bookkeeping costs.

A pull makes each file it writes a cache entry (a hard link, or a copy where the cache is on another file
system) and indexes each chunk in the cache's SQLite index. Measured here, embedded (SQLite + a ``file://``
store on the local disk, ``benchmarks/.data/``), pulling one ``--size-mib`` file of random bytes:

- **no cache**: the embedded default, every chunk read from the store;
- **cold cache**: the same pull into an empty cache on the same file system (entries are hard links);
- **cold cache, another file system**: the cache in ``/dev/shm`` (tmpfs), so each entry is a copy;
- **cached**: the same version again, every chunk read from the cache (``bytes_fetched == 0``, checked);
- **usage** and **prune** over a cache of ``--entries`` entries (one chunk each): what ``cache info`` and a
  bounded cache's prune cost.

Each figure is the median of ``--runs`` runs (range beside), with the pulling process's CPU time.

Run:  .venv/bin/python benchmarks/pull_cache.py [--runs 5] [--entries 20000] [--size-mib 512]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import modelreg
from _common import MB, Report, banner, parse_args, random_file, scratch_dir, summarise, timed
from modelreg.digest import sha256_bytes
from modelreg.transfer.cache import ChunkCache

_OTHER_FS = Path("/dev/shm")


def main() -> int:
    def extra(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--entries", type=int, default=20_000, help="cache entries for the bookkeeping")
        parser.add_argument("--size-mib", type=int, default=512, help="size of the pulled model (MiB)")

    args = parse_args(__doc__ or "", runs=5, extra=extra)
    banner(f"pull_cache: a {args.size_mib} MiB pull, {args.entries} entries, {args.runs} runs")
    report = Report("pull_cache", args.json)
    with scratch_dir("pull-cache") as root:
        _pulls(report, root, size=args.size_mib * 2**20, runs=args.runs)
        _bookkeeping(report, root / "bookkeeping", entries=args.entries, runs=args.runs)
    return report.finish()


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _pulls(report: Report, root: Path, *, size: int, runs: int) -> None:
    model = root / "model"
    model.mkdir()
    random_file(model / "weights.bin", size)
    registry = root / "registry"
    with modelreg.connect(registry) as client:
        client.push("m", model)
    other = Path(tempfile.mkdtemp(prefix="modelreg-bench-", dir=_OTHER_FS)) if _OTHER_FS.is_dir() else None
    kinds: dict[str, tuple[list[float], list[float]]] = {}

    def measure(kind: str, pull: Callable[[], object]) -> None:
        walls, cpus = kinds.setdefault(kind, ([], []))
        before = _cpu()
        walls.append(timed(pull))
        cpus.append(_cpu() - before)

    try:
        for run in range(runs):
            with modelreg.connect(registry) as client:
                measure("no cache", lambda run=run: client.pull("m", dest=root / f"plain-{run}"))
            caches = [("", root / f"cache-{run}")] + ([(", another file system", other)] if other else [])
            for where, cache_dir in caches:
                with modelreg.connect(registry, cache_dir=cache_dir) as client:
                    measure(f"cold cache{where}", lambda run=run: client.pull("m", dest=root / f"cold-{run}"))
                    measure(f"cached{where}", lambda run=run: client.pull("m", dest=root / f"warm-{run}"))
                    assert client.last_pull is not None and client.last_pull.bytes_fetched == 0
                    ChunkCache(cache_dir).clear()
                for name in (f"cold-{run}", f"warm-{run}"):
                    shutil.rmtree(root / name)
            shutil.rmtree(root / f"plain-{run}")
    finally:
        if other is not None:
            shutil.rmtree(other, ignore_errors=True)
    for kind, (walls, cpus) in kinds.items():
        rates = summarise([size / seconds / MB for seconds in walls])
        cpu = summarise(cpus)
        report.add(
            f"pull {size // 2**20} MiB, {kind}",
            f"{rates.median:.0f} MB/s, {cpu.median:.2f} CPU-s",
            rates.spread(".0f"),
        )


def _bookkeeping(report: Report, root: Path, *, entries: int, runs: int) -> None:
    usages, keeps, prunes = [], [], []
    for run in range(runs):
        cache = ChunkCache(root / f"cache-{run}")
        files = root / f"pulled-{run}"
        files.mkdir(parents=True)
        paths = [files / str(number) for number in range(entries)]
        for path in paths:
            path.write_bytes(b"")
        adopted = cache.adopt(paths)
        written = []
        for number, (path, entry) in enumerate(zip(paths, adopted, strict=True)):
            assert entry is not None
            data = number.to_bytes(8, "big") * 16  # 128 bytes: these figures are about entries, not bytes
            path.write_bytes(data)
            written.append((entry, 0, sha256_bytes(data), data))
        keeps.append(timed(lambda cache=cache, written=written: (cache.keep(written), cache.flush())))
        usages.append(timed(cache.usage))
        total = cache.usage().bytes
        prunes.append(timed(lambda cache=cache, total=total: cache.prune(max_bytes=total // 2)))
        cache.close()
        shutil.rmtree(root)
    for label, samples in (
        ("index one chunk per entry (keep)", keeps),
        ("usage", usages),
        ("prune removing half", prunes),
    ):
        stats = summarise([seconds * 1000 for seconds in samples])
        report.add(f"{label}, {entries:,} entries", f"{stats.median:.0f} ms", stats.spread(".0f"))


if __name__ == "__main__":
    os.environ.pop("MODELREG_CACHE_MAX_BYTES", None)
    raise SystemExit(main())
