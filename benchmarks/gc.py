"""Garbage collection over a file chunk store of 100,000 chunks: mark and sweep, dry run and apply.

For each database (SQLite file, and PostgreSQL in a fresh schema dropped afterwards) it builds a registry
whose file chunk store holds ``--chunks`` chunks (default 100,000) of 256 random bytes each:

- ``--orphan-share`` of them (default 20%) referenced by nothing, as a failed push leaves them;
- the rest referenced by versions: 8 models × 1 version × 10 files of ``chunks × 0.8 / 80`` chunks each,
  committed through ``Registry.commit_version`` (a manifest per version: the registry's own commit path,
  with its chunk-store check, metadata rows and audit events).

The grace period is 0 s, so every orphan is reclaimable. Then, ``--runs`` times each (median reported, range
beside it):

- **dry run**: ``collect_garbage()``: mark (list the store, query the roots and leases, stat the unmarked);
- **apply**: ``collect_garbage(apply=True)`` with the orphans in place: mark (the dry run's work plus the
  locked decision: sweep rows for every candidate, the audit event) and sweep (delete each candidate, then
  drop the rows and audit the end). The orphans are written again before each run;
- **apply, nothing to delete**: the steady state of a scheduled collection: mark only;
- **commits during apply**: another process commits one small version after another while an apply
  deletes the orphans; its slowest commit shows how long the collection's locked decisions hold commits
  up. For comparison, the median commit of the same loop without any collection running.

Seeding shortcut: the chunks are written straight into the file store's layout (``sha256/ab/cd/<hex>``)
without the store's per-chunk fsync (≈ 2 ms each here, so 100,000 puts would take minutes of seeding
and measure nothing about collection); the store is listed afterwards to check it sees every one.

Run:  .venv/bin/python benchmarks/gc.py [--runs 3] [--chunks 100000] [--databases sqlite,postgres]
PostgreSQL: postgresql://postgres@127.0.0.1:5432/test, or set MODELREG_BENCH_POSTGRES_URL.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import multiprocessing
import os
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _common import Report, banner, parse_args, require, scratch_database, summarise
from modelreg.access import Actor
from modelreg.connection import open_stores
from modelreg.digest import Digest
from modelreg.registry.manifest import ChunkRef, FileRecord, Manifest
from modelreg.registry.service import Registry
from modelreg.types import GcReport

CHUNK_BYTES = 256
MODELS = 8
FILES_PER_VERSION = 10


def main() -> int:
    def extra(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--databases", default="sqlite,postgres", help="comma-separated: sqlite,postgres")
        parser.add_argument("--chunks", type=int, default=100_000, help="chunks in the store")
        parser.add_argument("--orphan-share", type=float, default=0.2, help="share referenced by nothing")

    args = parse_args(__doc__ or "", runs=3, extra=extra)
    orphans = int(args.chunks * args.orphan_share)
    referenced = args.chunks - orphans
    require(referenced % (MODELS * FILES_PER_VERSION) == 0, "referenced chunks must split into 80 files")
    banner(f"gc: {args.chunks} chunks ({referenced} referenced, {orphans} orphans), {args.runs} runs")
    report = Report("gc", args.json)
    for kind in args.databases.split(","):
        with _registry(kind) as registry:
            _bench(kind, registry, referenced=referenced, orphans=orphans, runs=args.runs, report=report)
    report.note(
        "mark = listing the store + the roots/leases queries + a stat of each unmarked chunk (+ on apply "
        "the locked decision, during which commits wait); sweep = the deletions + the closing transaction"
    )
    return report.finish()


@contextlib.contextmanager
def _registry(kind: str) -> Iterator[Registry]:
    with scratch_database(kind, "gc") as (url, root):
        metadata, chunks = open_stores(url, storage=f"file://{root / 'chunks'}")
        try:
            yield Registry(
                metadata, chunks, actor=Actor("bench"), verify_file_digests=False, gc_grace_seconds=0
            )
        finally:
            metadata.close()


def _bench(
    kind: str, registry: Registry, *, referenced: int, orphans: int, runs: int, report: Report
) -> None:
    label = "SQLite" if kind == "sqlite" else "PostgreSQL"
    root = Path(registry.chunks.url.removeprefix("file://"))
    started = time.perf_counter()
    _seed_versions(registry, root, referenced)
    print(f"-- {label}: {referenced} referenced chunks in {time.perf_counter() - started:.1f} s", flush=True)

    dry = [_collect(registry, root, orphans, apply=False) for _ in range(runs)]
    applied = [_collect(registry, root, orphans, apply=True) for _ in range(runs)]
    steady = [_collect(registry, root, 0, apply=True) for _ in range(runs)]
    for name, reports in (("dry run", dry), ("apply", applied), ("apply, nothing to delete", steady)):
        _figures(report, f"{label}: {name}", reports, sweep=name == "apply")
    quiet = [_commit_latencies(registry, root, 0) for _ in range(runs)]
    busy = [_commit_latencies(registry, root, orphans) for _ in range(runs)]
    calm = summarise([statistics.median(latencies) * 1e3 for latencies in quiet])
    slowest = summarise([max(latencies) * 1e3 for latencies in busy])
    report.add(f"{label}: a commit, no collection (ms)", f"{calm.median:.0f}", calm.spread(".0f"))
    report.add(f"{label}: slowest commit during apply (ms)", f"{slowest.median:.0f}", slowest.spread(".0f"))


def _commit_latencies(registry: Registry, root: Path, orphans: int) -> list[float]:
    """Latencies of commits made in a loop by another process (as a server's would be: no GIL shared with
    the collector) for 1 s, or while an apply of ``orphans`` new orphans runs here."""
    context = multiprocessing.get_context("spawn")
    stop, ready = context.Event(), context.Event()
    results: multiprocessing.Queue[list[float]] = context.Queue()
    committer = context.Process(
        target=_commit_loop, args=(registry.metadata.url, registry.chunks.url, ready, stop, results)
    )
    _write_chunks(root, orphans)
    committer.start()
    require(ready.wait(timeout=60), "the committing process did not start")
    time.sleep(0.3)
    if orphans:
        require(registry.collect_garbage(apply=True).deleted_chunks == orphans, "apply deletes the orphans")
    else:
        time.sleep(1.0)
    stop.set()
    latencies = results.get(timeout=60)
    committer.join(timeout=60)
    return latencies


def _commit_loop(url: str, storage: str, ready: Any, stop: Any, results: Any) -> None:
    metadata, chunks = open_stores(url, storage=storage)
    registry = Registry(metadata, chunks, actor=Actor("committer"), verify_file_digests=False)
    data = os.urandom(CHUNK_BYTES)
    digest = Digest("sha256:" + hashlib.sha256(data).hexdigest())
    registry.put_chunk(digest, data)
    manifest = Manifest.build(
        [FileRecord("probe.bin", CHUNK_BYTES, digest, (ChunkRef(digest, CHUNK_BYTES),))]
    )
    registry.commit_version("probe", manifest)  # warm: connections made, model created
    ready.set()
    latencies: list[float] = []
    while not stop.is_set():
        started = time.perf_counter()
        registry.commit_version("probe", manifest)
        latencies.append(time.perf_counter() - started)
    metadata.close()
    results.put(latencies)


def _collect(registry: Registry, root: Path, orphans: int, *, apply: bool) -> GcReport:
    written = _write_chunks(root, orphans)
    result = registry.collect_garbage(apply=apply)
    require(result.missing_chunks == 0, "no referenced chunk may be missing")
    require(result.reclaimable_chunks == orphans, f"{result.reclaimable_chunks} reclaimable ≠ {orphans}")
    require(result.deleted_chunks == (orphans if apply else 0), "apply deletes exactly the orphans")
    if not apply:  # each run gets orphans of its own: remove these behind the store's back
        for hex_ in written:
            _path(root, hex_).unlink()
    return result


def _figures(report: Report, name: str, reports: list[GcReport], *, sweep: bool) -> None:
    mark = summarise([r.mark_seconds for r in reports])
    report.add(
        f"{name}: mark, {reports[0].scanned_chunks} chunks listed (s)",
        f"{mark.median:.2f}",
        mark.spread(".2f"),
    )
    if sweep:
        swept = summarise([r.sweep_seconds for r in reports])
        report.add(
            f"{name}: sweep, {reports[0].deleted_chunks} deleted (s)",
            f"{swept.median:.2f}",
            swept.spread(".2f"),
        )


def _seed_versions(registry: Registry, root: Path, referenced: int) -> None:
    per_file = referenced // (MODELS * FILES_PER_VERSION)
    for model in range(MODELS):
        records = []
        for index in range(FILES_PER_VERSION):
            written = _write_chunks(root, per_file)
            whole = Digest("sha256:" + hashlib.sha256(b"".join(written.values())).hexdigest())
            chunks = tuple(ChunkRef(Digest("sha256:" + hex_), CHUNK_BYTES) for hex_ in written)
            records.append(FileRecord(f"f{index}.bin", per_file * CHUNK_BYTES, whole, chunks))
        registry.commit_version(f"m{model}", Manifest.build(records))
    stored = sum(1 for _ in registry.chunks.iter())
    require(stored == referenced, f"the store lists {stored} chunks, not {referenced}")


def _write_chunks(root: Path, count: int) -> dict[str, bytes]:
    """``count`` new random chunks (hex digest → bytes, in order), written straight into the file store's
    layout (see the module docstring)."""
    written: dict[str, bytes] = {}
    for _ in range(count):
        data = os.urandom(CHUNK_BYTES)
        hex_ = hashlib.sha256(data).hexdigest()
        path = _path(root, hex_)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written[hex_] = data
    return written


def _path(root: Path, hex_: str) -> Path:
    return root / "sha256" / hex_[:2] / hex_[2:4] / hex_


if __name__ == "__main__":
    raise SystemExit(main())
