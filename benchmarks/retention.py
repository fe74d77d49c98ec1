"""Retention at scale: a dry run and an apply over every model, and one explicit purge.

For each database (SQLite file, and PostgreSQL in a fresh schema dropped afterwards) it commits ``--models``
models × ``--versions`` versions (defaults 20 × 250 = 5,000) through ``Registry.commit_version`` (one small
file of one chunk each), puts an alias, a production stage and a legal hold on each model's first three
versions, and sets a global policy ``keep_last=10``. Then, ``--runs`` times each (median reported, range
beside it):

- **dry run**: ``apply_retention()``: every model's policy and versions read, the selection reported
  (here (V − 10) × M candidates, 3 × M of them protected), nothing written;
- **apply**: ``apply_retention(apply=True)``: per model, write transactions of at most 25 purges under
  its lock (pausing between them), purging (V − 13) versions, each with its audit event. Between runs the
  purge marks are cleared by SQL behind the registry's back (a benchmark shortcut: the audit chain keeps the
  earlier runs' events, as a long-lived registry's would);
- **one purge**: ``purge_version`` of single versions (median latency of 50, per run);
- **commits during apply**: another process commits one small version after another while an apply runs;
  its slowest commit shows how long the apply's transactions (each holding the audit chain's lock) hold
  commits up; beside it, the median commit of the same loop with no apply running.

Run:  .venv/bin/python benchmarks/retention.py [--runs 3] [--models 20] [--versions 250]
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
from collections.abc import Callable, Iterator
from typing import Any

from _common import Report, banner, parse_args, require, scratch_database, summarise
from modelreg.access import Actor
from modelreg.connection import open_stores
from modelreg.digest import Digest
from modelreg.registry.manifest import ChunkRef, FileRecord, Manifest
from modelreg.registry.service import Registry

KEEP_LAST = 10
PROTECTED = 3  # per model: @champion on v1, production on v2, a hold on v3
PURGES = 50  # explicit purges timed per run


def main() -> int:
    def extra(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--databases", default="sqlite,postgres", help="comma-separated: sqlite,postgres")
        parser.add_argument("--models", type=int, default=20, help="models")
        parser.add_argument("--versions", type=int, default=250, help="versions per model")

    args = parse_args(__doc__ or "", runs=3, extra=extra)
    require(args.versions > KEEP_LAST + PROTECTED + PURGES // args.models + 1, "too few versions per model")
    banner(f"retention: {args.models} models × {args.versions} versions, {args.runs} runs")
    report = Report("retention", args.json)
    for kind in args.databases.split(","):
        with _registry(kind) as registry:
            _bench(kind, registry, models=args.models, versions=args.versions, runs=args.runs, report=report)
    report.note(
        f"global keep_last={KEEP_LAST}; each model's first {PROTECTED} versions protected (alias, "
        "production, hold); apply = locked transactions of at most 25 purges with pauses between them, one "
        "audit event per purge"
    )
    return report.finish()


@contextlib.contextmanager
def _registry(kind: str) -> Iterator[Registry]:
    with scratch_database(kind, "retention") as (url, root):
        metadata, chunks = open_stores(url, storage=f"file://{root / 'chunks'}")
        try:
            yield Registry(metadata, chunks, actor=Actor("bench"), verify_file_digests=False)
        finally:
            metadata.close()


def _bench(kind: str, registry: Registry, *, models: int, versions: int, runs: int, report: Report) -> None:
    label = "SQLite" if kind == "sqlite" else "PostgreSQL"
    started = time.perf_counter()
    _seed(registry, models, versions)
    total = models * versions
    print(f"-- {label}: {total} versions in {time.perf_counter() - started:.1f} s", flush=True)
    registry.set_retention_policy(keep_last=KEEP_LAST)
    _seed_model(registry, "probe", 1)  # the concurrent committer's model, exempt from retention
    registry.set_retention_policy("probe")
    selected = models * (versions - KEEP_LAST)
    purged = selected - models * PROTECTED

    def dry_run() -> float:
        began = time.perf_counter()
        result = registry.apply_retention()
        elapsed = time.perf_counter() - began
        require(len(result.purge) == purged and len(result.protected) == models * PROTECTED, "dry run")
        return elapsed

    def apply() -> float:
        began = time.perf_counter()
        result = registry.apply_retention(apply=True)
        elapsed = time.perf_counter() - began
        require(len(result.purge) == purged, f"apply purged {len(result.purge)} ≠ {purged}")
        _unpurge(registry)
        return elapsed

    def one_purge() -> float:
        latencies = []
        for index in range(PURGES):
            ref = f"m{index % models}/{versions - KEEP_LAST - index // models}"
            began = time.perf_counter()
            require(registry.purge_version(ref).purged, "purged")
            latencies.append(time.perf_counter() - began)
        _unpurge(registry)
        return statistics.median(latencies)

    for name, measure, unit, scale in (
        (f"dry run, {total} versions, {selected} selected (s)", dry_run, ".2f", 1.0),
        (f"apply, {purged} purged (s)", apply, ".2f", 1.0),
        ("one explicit purge, median (ms)", one_purge, ".1f", 1e3),
    ):
        figures = summarise([measure() * scale for _ in range(runs)])
        report.add(f"{label}: {name}", f"{figures.median:{unit}}", figures.spread(unit))
    quiet = [_commit_latencies(registry, lambda: time.sleep(1.0)) for _ in range(runs)]
    busy = [_commit_latencies(registry, apply) for _ in range(runs)]
    calm = summarise([statistics.median(latencies) * 1e3 for latencies in quiet])
    slowest = summarise([max(latencies) * 1e3 for latencies in busy])
    report.add(f"{label}: a commit, no apply (ms)", f"{calm.median:.0f}", calm.spread(".0f"))
    report.add(f"{label}: slowest commit during apply (ms)", f"{slowest.median:.0f}", slowest.spread(".0f"))


def _commit_latencies(registry: Registry, during: Callable[[], object]) -> list[float]:
    """Latencies of commits made in a loop by another process (a server's would not share our GIL)
    while ``during()`` runs here."""
    context = multiprocessing.get_context("spawn")
    stop, ready = context.Event(), context.Event()
    results: multiprocessing.Queue[list[float]] = context.Queue()
    committer = context.Process(
        target=_commit_loop, args=(registry.metadata.url, registry.chunks.url, ready, stop, results)
    )
    committer.start()
    require(ready.wait(timeout=60), "the committing process did not start")
    time.sleep(0.3)
    during()
    stop.set()
    latencies: list[float] = results.get(timeout=60)
    committer.join(timeout=60)
    return latencies


def _commit_loop(url: str, storage: str, ready: Any, stop: Any, results: Any) -> None:
    metadata, chunks = open_stores(url, storage=storage)
    registry = Registry(metadata, chunks, actor=Actor("committer"), verify_file_digests=False)
    data = os.urandom(64)
    digest = Digest("sha256:" + hashlib.sha256(data).hexdigest())
    registry.put_chunk(digest, data)
    manifest = Manifest.build([FileRecord("probe.bin", len(data), digest, (ChunkRef(digest, len(data)),))])
    registry.commit_version("probe", manifest)  # warm: connections made, model created
    ready.set()
    latencies: list[float] = []
    while not stop.is_set():
        started = time.perf_counter()
        registry.commit_version("probe", manifest)
        latencies.append(time.perf_counter() - started)
    metadata.close()
    results.put(latencies)


def _seed(registry: Registry, models: int, versions: int) -> None:
    for model in range(models):
        name = f"m{model}"
        _seed_model(registry, name, versions)
        registry.set_alias(name, "champion", 1)
        registry.set_stage(f"{name}/2", "production")
        registry.set_hold(f"{name}/3", reason="benchmark")


def _seed_model(registry: Registry, name: str, versions: int) -> None:
    for number in range(1, versions + 1):
        data = f"{name}/{number}".encode() + os.urandom(16)
        digest = Digest("sha256:" + hashlib.sha256(data).hexdigest())
        registry.put_chunk(digest, data)
        record = FileRecord("w.bin", len(data), digest, (ChunkRef(digest, len(data)),))
        registry.commit_version(name, Manifest.build([record]))


def _unpurge(registry: Registry) -> None:
    """Clear every purge mark behind the registry's back (benchmark only: a purge is never undone)."""
    import sqlalchemy  # noqa: PLC0415 - the benchmark's shortcut, not the registry's API

    from modelreg.metadata.engine import make_engine  # noqa: PLC0415
    from modelreg.metadata.tables import versions  # noqa: PLC0415

    engine = make_engine(registry.metadata.url)
    with engine.begin() as connection:
        connection.execute(sqlalchemy.update(versions).values(purged_at=None, purged_by=None))
    engine.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
