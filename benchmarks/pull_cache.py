"""The pull cache's bookkeeping: what a bounded cache costs per pull, and what pruning costs.

Every cache hit sets the entry's mtime (the least recently used go first), and a bounded cache
(``MODELREG_CACHE_MAX_BYTES``) scans its directory after a pull that added chunks when its last count plus
what it added passes the bound (or the count is an hour old). Measured here, on the local disk
(``benchmarks/.data/``):

- **scan**: ``ChunkCache.usage()`` over a cache of ``--entries`` entries (what a trim's scan costs);
- **prune with nothing to remove** and **prune removing half**: ``prune`` over the same cache;
- **cold pull**: an embedded pull of ``--size-mib`` into an empty cache, unbounded, and bounded (the bound
  above the pull's size) without a count, so that it scans once after the pull;
- **cached pull**: the same pull again, every chunk in the cache: only the mtime updates (nothing added,
  so no trim).

Each figure is the median of ``--runs`` runs (range beside).

Run:  .venv/bin/python benchmarks/pull_cache.py [--runs 5] [--entries 100000] [--size-mib 512]
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

import modelreg
from _common import MB, Report, banner, parse_args, random_file, scratch_dir, summarise, timed
from modelreg.digest import sha256_bytes
from modelreg.settings import Settings
from modelreg.transfer.cache import ChunkCache


def main() -> int:
    def extra(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--entries", type=int, default=100_000, help="cache entries for the scan figures")
        parser.add_argument("--size-mib", type=int, default=512, help="size of the pulled model (MiB)")

    args = parse_args(__doc__ or "", runs=5, extra=extra)
    banner(f"pull_cache: {args.entries} entries, a {args.size_mib} MiB pull, {args.runs} runs")
    report = Report("pull_cache", args.json)
    with scratch_dir("pull-cache") as root:
        _scans(report, root / "scan", entries=args.entries, runs=args.runs)
        _pulls(report, root, size=args.size_mib * 2**20, runs=args.runs)
    return report.finish()


def _scans(report: Report, root: Path, *, entries: int, runs: int) -> None:
    cache = ChunkCache(root)
    scans, trims, prunes = [], [], []
    for _ in range(runs):
        _fill(cache, entries)  # back to every entry (the last run's prune removed half)
        total = cache.usage().bytes
        scans.append(timed(cache.usage))
        trims.append(timed(lambda total=total: cache.prune(max_bytes=total)))
        prunes.append(timed(lambda total=total: cache.prune(max_bytes=total // 2)))
    labels = ("scan (usage)", "prune with nothing to remove", "prune removing half")
    for label, samples in zip(labels, (scans, trims, prunes), strict=True):
        stats = summarise([seconds * 1000 for seconds in samples])
        report.add(f"{label}, {entries:,} entries", f"{stats.median:.0f} ms", stats.spread(".0f"))


def _fill(cache: ChunkCache, entries: int) -> None:
    for number in range(entries):
        data = number.to_bytes(8, "big") * 16  # 128 bytes: these figures are about entries, not bytes
        cache.put(sha256_bytes(data), data)


def _pulls(report: Report, root: Path, *, size: int, runs: int) -> None:
    model = root / "model"
    model.mkdir()
    random_file(model / "weights.bin", size)
    registry = root / "registry"
    with modelreg.connect(registry) as client:
        client.push("m", model)
    for bounded in (False, True):
        settings = Settings(cache_max_bytes=4 * size if bounded else None)
        label = "bounded" if bounded else "unbounded"
        cache_dir = root / f"cache-{label}"
        cold, warm = [], []
        with modelreg.connect(registry, cache_dir=cache_dir, settings=settings) as client:
            for run in range(runs):
                shutil.rmtree(cache_dir / "chunks", ignore_errors=True)
                (cache_dir / "cache-usage.json").unlink(missing_ok=True)  # no count: the trim scans
                cold.append(timed(lambda run=run: client.pull("m", dest=root / f"cold-{run}")))
                warm.append(timed(lambda run=run: client.pull("m", dest=root / f"warm-{run}")))
                assert client.last_pull is not None and client.last_pull.bytes_fetched == 0
                for path in (root / f"cold-{run}", root / f"warm-{run}"):
                    shutil.rmtree(path)
        for kind, samples in (("cold", cold), ("cached", warm)):
            rates = summarise([size / seconds / MB for seconds in samples])
            report.add(f"{kind} pull, {label} cache", f"{rates.median:.0f} MB/s", rates.spread(".0f"))


if __name__ == "__main__":
    os.environ.pop("MODELREG_CACHE_MAX_BYTES", None)
    raise SystemExit(main())
