"""Shared plumbing for the benchmark scripts: timing statistics, scratch space, PostgreSQL schemas, reports.

Not a benchmark itself. Each ``benchmarks/<name>.py`` measures, then calls ``Report.finish()``, which prints
its table and, when ``run_all.py`` asked for it (``--json PATH``), writes the rows as JSON for the summary.

Units: MB is 10**6 bytes and MB/s is 10**6 bytes per second of wall-clock time (1 GiB = 1073.7 MB).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

__all__ = [
    "MB",
    "POSTGRES_URL",
    "REPO",
    "Cost",
    "Report",
    "Row",
    "Summary",
    "banner",
    "format_table",
    "free_port",
    "machine",
    "measured",
    "parse_args",
    "percentile",
    "postgres_schema",
    "random_file",
    "require",
    "scratch_database",
    "scratch_dir",
    "server_process",
    "summarise",
    "timed",
    "wait_ready",
]

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "benchmarks" / ".data"
POSTGRES_URL = os.environ.get("MODELREG_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
MB = 1_000_000


@dataclass(frozen=True, slots=True)
class Summary:
    """Median of the samples and their full range (the spread)."""

    median: float
    low: float
    high: float
    count: int

    def spread(self, fmt: str) -> str:
        return f"{self.low:{fmt}} – {self.high:{fmt}} (n={self.count})"


def summarise(samples: Sequence[float]) -> Summary:
    if not samples:
        raise ValueError("no samples")
    return Summary(statistics.median(samples), min(samples), max(samples), len(samples))


def percentile(samples: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (p95 of 2000 samples is the 1900th smallest); no interpolation."""
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), int(-(-fraction * len(ordered) // 1))))
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class Row:
    """One reported figure. ``ok`` is None when the figure has no target (context, not a verdict)."""

    benchmark: str
    metric: str
    value: str
    spread: str
    target: str
    ok: bool | None

    @property
    def verdict(self) -> str:
        return "—" if self.ok is None else ("PASS" if self.ok else "FAIL")


@dataclass
class Report:
    benchmark: str
    json_path: str | None = None
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(
        self, metric: str, value: str, spread: str = "", target: str = "", ok: bool | None = None
    ) -> None:
        row = Row(self.benchmark, metric, value, spread, target, ok)
        self.rows.append(row)
        print(f"  {metric}: {value}  [{spread}]  target {target or '—'}  {row.verdict}", flush=True)

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"  note: {text}", flush=True)

    def finish(self) -> int:
        print()
        print(format_table(self.rows))
        for text in self.notes:
            print(f"note: {text}")
        if self.json_path:
            payload = {"rows": [asdict(row) for row in self.rows], "notes": self.notes, "machine": machine()}
            Path(self.json_path).write_text(json.dumps(payload, indent=2))
        return 0


def format_table(rows: Sequence[Row]) -> str:
    header = ("benchmark", "metric", "median", "spread (min – max)", "target", "result")
    lines = [header, *((r.benchmark, r.metric, r.value, r.spread, r.target or "—", r.verdict) for r in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = [" | ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)) for line in lines]
    out.insert(1, "-+-".join("-" * width for width in widths))
    return "\n".join(out)


def machine() -> dict[str, object]:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "python": platform.python_version(),
        "cpus": cpus,
        "cpu_model": _cpu_model(),
        "platform": platform.platform(),
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def parse_args(
    description: str, *, runs: int, extra: Callable[[argparse.ArgumentParser], None] | None = None
) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description.strip().splitlines()[0])
    parser.add_argument(
        "--runs", type=int, default=runs, help=f"repetitions per figure (default {runs}, minimum 3)"
    )
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON (used by run_all.py)")
    if extra is not None:
        extra(parser)
    args = parser.parse_args()
    if args.runs < 3:
        parser.error("--runs must be at least 3: a median of fewer runs says nothing about spread")
    return args


def banner(name: str) -> None:
    info = machine()
    print(
        f"== {name} · Python {info['python']} · {info['cpus']} CPUs ({info['cpu_model']}) · "
        f"load average {info['loadavg_1m']}",
        flush=True,
    )


@contextlib.contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    """A fresh directory under ``benchmarks/.data/`` (same disk as the repo), removed afterwards."""
    DATA.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=f"{prefix}-", dir=DATA))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        with contextlib.suppress(OSError):
            DATA.rmdir()  # only when no other benchmark is using it


@contextlib.contextmanager
def postgres_schema(prefix: str = "bench") -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a brand-new schema, dropped afterwards (as tests/conftest.py)."""
    import sqlalchemy  # noqa: PLC0415 - only the metadata benchmark needs a database driver

    schema = f"{prefix}_{secrets.token_hex(6)}"
    engine = sqlalchemy.create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as connection:
            connection.execute(sqlalchemy.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def analyze(url: str) -> None:
    """``VACUUM ANALYZE`` a PostgreSQL database after bulk seeding: what autovacuum does minutes later
    (without it the planner has no statistics, and autovacuum may re-plan the queries, or compete for the
    CPU, in the middle of a run)."""
    import sqlalchemy  # noqa: PLC0415 - only the metadata benchmarks need a database driver

    from modelreg.metadata.engine import normalise_url  # noqa: PLC0415 - as above

    engine = sqlalchemy.create_engine(normalise_url(url), isolation_level="AUTOCOMMIT")  # VACUUM needs it
    try:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("VACUUM ANALYZE"))
    finally:
        engine.dispose()


@contextlib.contextmanager
def scratch_database(kind: str, prefix: str) -> Iterator[tuple[str, Path]]:
    """A metadata database URL for ``kind`` ("sqlite": a file; "postgres": a fresh schema) and a scratch
    directory beside it (for the chunk store), both removed afterwards."""
    with scratch_dir(f"{prefix}-{kind}") as root, contextlib.ExitStack() as stack:
        if kind == "sqlite":
            url = f"sqlite:///{root / 'registry.db'}"
        elif kind == "postgres":
            url = stack.enter_context(postgres_schema(f"bench_{prefix}"))
        else:
            raise SystemExit(f"unknown database {kind!r}: use sqlite or postgres")
        yield url, root


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


@dataclass(frozen=True, slots=True)
class Cost:
    wall: float  # seconds
    cpu: float  # seconds of CPU (user + system) used by this process, all threads


def measured(fn: Callable[[], object]) -> Cost:
    """Wall-clock and CPU time of ``fn()``. CPU time barely moves with other load; wall time does."""
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    fn()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Cost(wall, cpu)


def random_file(path: Path, size: int, *, block: int = 16 * 1024 * 1024) -> None:
    """``size`` bytes from the OS's CSPRNG: incompressible and free of repeats, so nothing dedups."""
    with open(path, "wb") as handle:
        remaining = size
        while remaining:
            count = min(block, remaining)
            handle.write(os.urandom(count))
            remaining -= count


def require(condition: bool, message: str) -> None:
    """A benchmark's correctness check; unlike ``assert`` it also holds under ``python -O``."""
    if not condition:
        raise SystemExit(f"benchmark check failed: {message}")


# Servers ----------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def server_process(
    command: list[str], log: Path, *, stdout: Path | None = None, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A server in its own process group (stderr to ``log``, stdout too unless ``stdout`` is given); at the
    end the whole group is stopped: SIGINT first (uvicorn's clean shutdown), then SIGTERM and SIGKILL for
    whatever is left (MLflow's server also starts job runners that survive SIGINT)."""
    with open(log, "wb") as err, open(stdout or os.devnull, "wb") as out:
        process = subprocess.Popen(
            command,
            stdout=out if stdout else err,
            stderr=err,
            start_new_session=True,
            env=env if env is not None else dict(os.environ),
        )
    try:
        yield process
    finally:
        for stop, grace in ((signal.SIGINT, 20.0), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(process.pid, stop)
            except ProcessLookupError:
                break  # the whole group is gone
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=grace)
            time.sleep(0.5)  # the group's other processes exit after its leader


def wait_ready(*urls: str, timeout: float = 180.0) -> None:
    """Wait until every URL answers 200, in turn; exit with a message after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    for url in urls:
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            require(time.monotonic() < deadline, f"{url} did not answer within {timeout:.0f} s")
            time.sleep(0.25)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
