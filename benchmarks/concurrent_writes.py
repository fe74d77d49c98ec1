"""Concurrent writers through ``modelreg serve``: create version and set alias, 1 and 8 client threads.

What an 8-thread CI fleet or a team pushing at once sees from a multi-process server. For each database
(``--databases``: SQLite file, PostgreSQL in a fresh schema dropped afterwards; chunks in a directory) it
starts ``modelreg serve --workers 2`` (``--server-workers``) and drives it through the HTTP SDK
(``modelreg.connect("http://…")``) with the load generator of ``vs_mlflow.py`` (``_mlflow_worker.run_load``:
warm-up calls on every thread, then calls for ``--seconds``):

- **create version**: ``push(name, <1 KiB file>, tags=…)``, the SDK's whole push (hash, ``files/known``,
  ``chunks/missing``, commit: three requests, one write transaction);
- **set alias**: each thread moves its own alias over the first 20 versions (one request, one write).

Every figure is the median over ``--runs`` runs (range beside): calls per second of wall clock, and p50 / p99
latency, nearest-rank over every call of a run. On SQLite the writers of both server processes share one
database lock, so the p99 shows how fairly they take turns (``metadata.engine.SqliteWriters``).

Run:  .venv/bin/python benchmarks/concurrent_writes.py [--runs 3] [--threads 8] [--databases sqlite]
PostgreSQL: postgresql://postgres@127.0.0.1:5432/test, or set MODELREG_BENCH_POSTGRES_URL.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import modelreg
from _common import (
    Report,
    banner,
    free_port,
    parse_args,
    percentile,
    postgres_schema,
    scratch_dir,
    server_process,
    summarise,
    wait_ready,
)
from _mlflow_worker import Load, run_load

MODELREG = Path(sys.executable).parent / "modelreg"
SEEDED = 20  # versions pushed before the timed runs: the set-alias targets
WARMUP = 3  # calls per thread before a timed run


def main() -> int:
    def extra(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--databases", default="sqlite,postgres", help="comma-separated: sqlite,postgres")
        parser.add_argument("--threads", type=int, default=8, help="client threads (default 8)")
        parser.add_argument("--seconds", type=float, default=4.0, help="length of one run (default 4 s)")
        parser.add_argument(
            "--server-workers", type=int, default=2, help="modelreg serve --workers (default 2)"
        )

    args = parse_args(__doc__ or "", runs=3, extra=extra)
    banner(f"concurrent_writes: serve --workers {args.server_workers}, 1 and {args.threads} threads")
    report = Report("concurrent_writes", args.json)
    for kind in args.databases.split(","):
        with _server(kind, args.server_workers) as client, scratch_dir("writes") as scratch:
            tiny = scratch / "tiny.bin"
            tiny.write_bytes(os.urandom(1024))
            for _ in range(SEEDED):
                client.push("bench", tiny)
            for label, call in (("create version", _create(client, tiny)), ("set alias", _set_alias(client))):
                for threads in (1, args.threads):
                    loads = [
                        run_load(call, threads=threads, seconds=args.seconds, warmup=WARMUP)
                        for _ in range(args.runs)
                    ]
                    _add(report, f"{kind}, {label}, {threads} thread{'s' * (threads > 1)}", loads)
    return report.finish()


@contextlib.contextmanager
def _server(kind: str, workers: int) -> Iterator[modelreg.Client]:
    with scratch_dir("serve") as root, contextlib.ExitStack() as stack:
        database = (
            f"sqlite:///{root / 'registry.db'}"
            if kind == "sqlite"
            else stack.enter_context(postgres_schema())
        )
        port = free_port()
        command = [str(MODELREG), "serve", "--port", str(port), "--workers", str(workers)]
        command += ["--database-url", database, "--storage-url", f"file://{root / 'chunks'}"]
        env = {key: value for key, value in os.environ.items() if not key.startswith("MODELREG_")}
        stack.enter_context(server_process(command, root / "server.log", env=env))
        url = f"http://127.0.0.1:{port}"
        wait_ready(url + "/readyz")
        client = stack.enter_context(contextlib.closing(modelreg.connect(url, cache_dir=root / "cache")))
        yield client


def _create(client: modelreg.Client, tiny: Path) -> Callable[[int, int], object]:
    teams = ("risk", "fraud", "growth", "search", "ads")
    return lambda _thread, index: client.push("bench", tiny, tags={"team": teams[abs(index) % len(teams)]})


def _set_alias(client: modelreg.Client) -> Callable[[int, int], object]:
    return lambda thread, index: client.set_alias("bench", f"t{thread}", 1 + abs(index) % SEEDED)


def _add(report: Report, label: str, loads: list[Load]) -> None:
    rates = summarise([load["calls"] / load["seconds"] for load in loads])
    p50 = summarise([percentile(load["latencies"], 0.50) * 1000 for load in loads])
    p99 = summarise([percentile(load["latencies"], 0.99) * 1000 for load in loads])
    report.add(
        label,
        f"{rates.median:.1f}/s · p50 {p50.median:.1f} / p99 {p99.median:.1f} ms",
        f"{rates.low:.1f} – {rates.high:.1f}/s; p99 {p99.low:.0f} – {p99.high:.0f} ms",
    )


if __name__ == "__main__":
    raise SystemExit(main())
