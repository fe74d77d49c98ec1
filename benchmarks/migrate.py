"""``modelreg migrate`` throughput, and ``storage stats`` latency at 100,000 versions.

Migration. A source registry (SQLite + a file directory) of ``--versions`` versions (default 200) over 4
models is pushed through the SDK: each version holds the model's shared 1 MiB file and a new 256 KiB file,
so ~57 MB of distinct chunks. Each run migrates it into a fresh target, verifying every chunk's content
(the default): a directory (SQLite + file chunks) and PostgreSQL + file chunks. Reported: the median of
``--runs`` runs of versions/s and MB/s (distinct chunk bytes copied per second, wall-clock, everything
included: schema creation, chunk copy, row copy, verification), and a re-run over a finished target
(the cost of a resume that has nothing left to copy).

Storage stats. 20 models × 5,000 versions are bulk-inserted with SQLAlchemy Core into exactly the rows a
push writes for content (versions, version_files, files, file_chunks; no audit events, which stats never
reads): each version holds its model's shared file (one chunk) and a file of its own (two chunks). Reported:
the median latency over ``--runs`` × 5 calls of ``storage_stats()`` (every model and the total) and of
``storage_stats("m07")``; the results are checked against the seeded figures. PostgreSQL gets ``ANALYZE``.

Run:  .venv/bin/python benchmarks/migrate.py [--runs 3] [--databases sqlite,postgres]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy
from sqlalchemy import insert, text

import modelreg
from _common import MB, Report, banner, parse_args, postgres_schema, require, scratch_dir, summarise
from modelreg.connection import migrate
from modelreg.metadata.engine import normalise_url
from modelreg.metadata.tables import file_chunks, files, models, version_files, versions

STATS_MODELS = 20
STATS_PER_MODEL = 5_000
SHARED = 1024 * 1024
OWN = 256 * 1024


def main() -> int:
    def extra(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--databases", default="sqlite,postgres", help="comma-separated: sqlite,postgres")
        parser.add_argument("--versions", type=int, default=200, help="versions in the migrated registry")

    args = parse_args(__doc__ or "", runs=3, extra=extra)
    banner(f"migrate: {args.versions} versions; storage stats at {STATS_MODELS * STATS_PER_MODEL} versions")
    report = Report("migrate", args.json)
    with scratch_dir("migrate") as root:
        source, distinct = _source(root / "source", root / "files", args.versions)
        for kind in args.databases.split(","):
            _bench_migration(report, kind, source=source, distinct=distinct, root=root, args=args)
    for kind in args.databases.split(","):
        _bench_stats(report, kind, args.runs)
    return report.finish()


def _source(root: Path, work: Path, count: int) -> tuple[Path, int]:
    shared = {index: os.urandom(SHARED) for index in range(4)}
    work.mkdir(parents=True)
    with modelreg.connect(root, actor="bench") as reg:
        for number in range(count):
            (work / "shared.bin").write_bytes(shared[number % 4])
            (work / "own.bin").write_bytes(os.urandom(OWN))
            reg.push(f"m{number % 4}", work)
        distinct = reg.storage_stats().physical_bytes
    require(distinct == 4 * SHARED + count * OWN, f"unexpected source size {distinct}")
    return root, distinct


@contextlib.contextmanager
def _target_database(kind: str, root: Path, run: int) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{root / f'{kind}-{run}' / 'registry.db'}"
    elif kind == "postgres":
        with postgres_schema("bench_migrate") as url:
            yield url
    else:
        raise SystemExit(f"unknown database {kind!r}: use sqlite or postgres")


def _bench_migration(
    report: Report, kind: str, *, source: Path, distinct: int, root: Path, args: argparse.Namespace
) -> None:
    label = "SQLite + dir" if kind == "sqlite" else "PostgreSQL + dir"
    seconds, again = [], []
    for run in range(args.runs):
        with _target_database(kind, root, run) as url:
            storage = f"file://{root / f'{kind}-{run}' / 'chunks'}"
            started = time.perf_counter()
            result = migrate(str(source), to_database=url, to_storage=storage)
            seconds.append(time.perf_counter() - started)
            require(result.problems == () and result.bytes_copied == distinct, f"bad migration: {result}")
            started = time.perf_counter()
            require(migrate(str(source), to_database=url, to_storage=storage).chunks_copied == 0, "re-copied")
            again.append(time.perf_counter() - started)
    rates = summarise([args.versions / s for s in seconds])
    throughput = summarise([distinct / MB / s for s in seconds])
    report.add(f"{label}: versions/s", f"{rates.median:.0f}", rates.spread(".0f"))
    report.add(f"{label}: MB/s (verified)", f"{throughput.median:.1f}", throughput.spread(".1f"))
    rerun = summarise(again)
    report.add(f"{label}: re-run, nothing to copy (s)", f"{rerun.median:.2f}", rerun.spread(".2f"))


def _bench_stats(report: Report, kind: str, runs: int) -> None:
    with scratch_dir(f"stats-{kind}") as root, _stats_database(kind, root) as url:
        _seed_stats(url)
        with modelreg.connect(url, storage=f"file://{root / 'chunks'}", actor="bench") as reg:
            stats = reg.storage_stats()
            require(stats.versions == STATS_MODELS * STATS_PER_MODEL, f"{stats.versions} versions")
            own = STATS_PER_MODEL * (2 * OWN)
            require(stats.models[7].physical_bytes == SHARED + own, f"m07: {stats.models[7]}")
            require(stats.physical_bytes == STATS_MODELS * (SHARED + own), f"total: {stats}")
            for label, call in (
                ("every model", reg.storage_stats),
                ("one model", lambda: reg.storage_stats("m07")),
            ):
                samples = []
                for _ in range(runs * 5):
                    started = time.perf_counter()
                    call()
                    samples.append((time.perf_counter() - started) * 1000)
                summary = summarise(samples)
                name = "SQLite" if kind == "sqlite" else "PostgreSQL"
                report.add(
                    f"stats at 100k versions, {name}, {label} (ms)",
                    f"{summary.median:.0f}",
                    summary.spread(".0f"),
                )


@contextlib.contextmanager
def _stats_database(kind: str, root: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{root / 'registry.db'}"
    else:
        with postgres_schema("bench_stats") as url:
            yield url


def _seed_stats(url: str) -> None:
    """Rows for 100,000 versions: each its model's shared 1-chunk file and its own 2-chunk file."""
    modelreg.connect(url, storage="memory://").close()  # builds the schema
    engine = sqlalchemy.create_engine(normalise_url(url))
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(insert(models), [_model_row(m, now) for m in range(STATS_MODELS)])
        for m in range(STATS_MODELS):
            shared = _digest(m)
            contents = {shared: [(_digest(10**6 + m), SHARED)]}
            version_rows, listed = [], []
            for number in range(1, STATS_PER_MODEL + 1):
                version_id = m * STATS_PER_MODEL + number
                own = _digest(10**7 + version_id)
                contents[own] = [
                    (_digest(10**8 + 2 * version_id), OWN),
                    (_digest(10**8 + 2 * version_id + 1), OWN),
                ]
                version_rows.append(_version_row(version_id, m, number, own, now))
                listed += [
                    {"version_id": version_id, "path": "shared.bin", "file_digest": shared, "size": SHARED},
                    {"version_id": version_id, "path": "own.bin", "file_digest": own, "size": 2 * OWN},
                ]
            connection.execute(insert(files), [_file_row(d, parts, now) for d, parts in contents.items()])
            connection.execute(
                insert(file_chunks),
                [
                    {"file_digest": d, "seq": seq, "chunk_digest": chunk, "size": size}
                    for d, parts in contents.items()
                    for seq, (chunk, size) in enumerate(parts)
                ],
            )
            connection.execute(insert(versions), version_rows)
            connection.execute(insert(version_files), listed)
        if engine.dialect.name == "postgresql":
            connection.execute(text("ANALYZE"))
    engine.dispose()


def _digest(number: int) -> str:
    return f"sha256:{number:064x}"


def _model_row(m: int, now: datetime) -> dict[str, object]:
    return {
        "id": m + 1,
        "name": f"m{m:02d}",
        "description": "",
        "created_at": now,
        "created_by": "bench",
        "updated_at": now,
        "last_version": STATS_PER_MODEL,
    }


def _version_row(version_id: int, m: int, number: int, digest: str, now: datetime) -> dict[str, object]:
    return {
        "id": version_id,
        "model_id": m + 1,
        "number": number,
        "digest": digest,
        "manifest": "{}",
        "size_bytes": SHARED + 2 * OWN,
        "file_count": 2,
        "description": "",
        "stage": "none",
        "lineage": "{}",
        "created_at": now,
        "created_by": "bench",
        "updated_at": now,
    }


def _file_row(digest: str, parts: list[tuple[str, int]], now: datetime) -> dict[str, object]:
    chunks = json.dumps([[d, s] for d, s in parts], separators=(",", ":"))
    return {"digest": digest, "size": sum(s for _, s in parts), "chunks": chunks, "created_at": now}


if __name__ == "__main__":
    raise SystemExit(main())
