"""Audit and time travel: the chain's cost on writes, ``verify`` speed, and ``resolve(…, at=T)`` latency.

For each database (SQLite file; PostgreSQL in a fresh schema dropped afterwards) it builds an embedded
registry with one model of two versions and 100,000 moves of its ``@champion`` alias, one second apart
(``--moves``). The moves are written through the metadata layer in transactions of 1,000, exactly the rows a
``set_alias`` writes (the alias row, an ``alias_history`` interval, a ``registry:alias:set`` audit event
continuing the hash chain): through the SDK that would take ~10 minutes. PostgreSQL then gets ``VACUUM
ANALYZE``, as autovacuum would minutes later. Then, through the embedded SDK:

- ``reg.resolve("m@champion", at=T)`` at random instants over the whole history, each answer checked:
  p50/p99 per run over ``--calls`` calls (default 2,000); target p50 < 2 ms embedded;
- ``reg.verify_audit()`` over the whole chain (~100,000 events): events/s; target ≥ 100,000/s;
- the export verified offline (``registry.audit.verify_export`` on the JSON lines file): events/s;
- the audit chain's share of a write: ``set_alias`` and ``push`` of a 1 KiB file, 1 thread, for a few
  seconds each, with the time spent in ``registry.audit.record`` (reading and locking the chain head,
  hashing, inserting the event, updating the head) measured around each call. Audit cannot be switched
  off (it is part of every change's transaction), so "slower than without" is that share; target < 10 %.

Run:  .venv/bin/python benchmarks/audit.py [--runs 3] [--databases sqlite,postgres] [--moves 100000]
"""

from __future__ import annotations

import contextlib
import json
import random
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import modelreg
from _common import Report, analyze, banner, parse_args, percentile, scratch_database, scratch_dir, summarise
from modelreg.registry import audit
from modelreg.registry.audit import verify_export

_BATCH = 1000
_WRITE_SECONDS = 3.0


def main() -> int:
    args = parse_args(__doc__ or "", runs=3, extra=_options)
    banner("audit")
    report = Report("audit", args.json)
    for database in args.databases.split(","):
        with _registry(database) as (reg, work):
            base = _seed_moves(reg, args.moves)
            if database == "postgres":
                analyze(reg.location)
            _resolve(report, database, reg, base, args)
            _verify(report, database, reg, work, args.runs)
            _write_share(report, database, reg, work, args.runs)
    return report.finish()


def _options(parser: Any) -> None:
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--moves", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=2000)


@contextlib.contextmanager
def _registry(database: str) -> Iterator[tuple[modelreg.Client, Path]]:
    with (
        scratch_database(database, "audit") as (url, work),
        modelreg.connect(url, storage=f"file://{work / 'chunks'}", actor="bench") as reg,
    ):
        yield reg, work


def _seed_moves(reg: modelreg.Client, moves: int) -> datetime:
    with _small_model() as model:
        reg.push("m", model)
        reg.push("m", model)
    registry = reg._backend  # the embedded SDK's backend is the Registry itself
    base = datetime.now(UTC) - timedelta(seconds=moves + 3600)
    started = time.perf_counter()
    with registry.metadata.session() as session:
        model_id = session.model_id("m")
        ids = [session.version_key("m", number).version_id for number in (1, 2)]
    for first in range(0, moves, _BATCH):
        with registry.metadata.session(write=True) as session:
            for i in range(first, min(first + _BATCH, moves)):
                at = base + timedelta(seconds=i)
                previous = session.set_alias(model_id, "champion", ids[i % 2], at=at, actor="bench")
                before = None if previous is None else 1 + ids.index(previous)
                audit.record(
                    session,
                    at=at,
                    actor="bench",
                    action="registry:alias:set",
                    model="m",
                    target="m@champion",
                    data={"before": before, "after": 1 + i % 2},
                )
    print(f"  seeded {moves:,} alias moves in {time.perf_counter() - started:.1f} s", flush=True)
    return base


@contextlib.contextmanager
def _small_model() -> Iterator[Path]:
    with scratch_dir("audit-model") as root:
        (root / "w.bin").write_bytes(random.randbytes(1024))
        yield root


def _resolve(report: Report, database: str, reg: modelreg.Client, base: datetime, args: Any) -> None:
    p50s, p99s = [], []
    for _ in range(args.runs):
        samples = []
        for _ in range(args.calls):
            offset = random.uniform(0, args.moves - 1e-3)
            started = time.perf_counter()
            version = reg.resolve("m@champion", at=base + timedelta(seconds=offset))
            samples.append(time.perf_counter() - started)
            assert version.version == 1 + int(offset) % 2, (offset, version.version)
        p50s.append(percentile(samples, 0.5) * 1000)
        p99s.append(percentile(samples, 0.99) * 1000)
    p50, p99 = summarise(p50s), summarise(p99s)
    report.add(
        f"{database}: resolve(@alias, at=T) p50",
        f"{p50.median:.2f} ms",
        p50.spread(".2f"),
        "< 2 ms",
        p50.median < 2,
    )
    report.add(f"{database}: resolve(@alias, at=T) p99", f"{p99.median:.2f} ms", p99.spread(".2f"))


def _verify(report: Report, database: str, reg: modelreg.Client, work: Path, runs: int) -> None:
    rates = []
    for _ in range(runs):
        started = time.perf_counter()
        result = reg.verify_audit()
        rates.append(result.events / (time.perf_counter() - started))
        assert result.ok, result
    rate = summarise(rates)
    report.add(
        f"{database}: audit verify ({result.events:,} events)",
        f"{rate.median:,.0f} events/s",
        rate.spread(",.0f"),
        "≥ 100,000/s",
        rate.median >= 100_000,
    )
    export = work / "audit.jsonl"
    started = time.perf_counter()
    with export.open("w") as handle:
        token = None
        while True:
            page = reg.audit_events(limit=1000, page_token=token)
            handle.writelines(audit_line(event.to_dict()) for event in page.items)
            if (token := page.next_page_token) is None:
                break
    report.add(
        f"{database}: audit export", f"{result.events / (time.perf_counter() - started):,.0f} events/s"
    )
    offline = []
    for _ in range(runs):
        started = time.perf_counter()
        with export.open() as handle:
            checked = verify_export(handle)
        offline.append(checked.events / (time.perf_counter() - started))
        assert checked.ok and checked.head_hash == result.head_hash, checked
    rate = summarise(offline)
    report.add(
        f"{database}: offline verify of the export", f"{rate.median:,.0f} events/s", rate.spread(",.0f")
    )


def audit_line(event: dict[str, Any]) -> str:
    return json.dumps(event, sort_keys=True, ensure_ascii=False) + "\n"


def _write_share(report: Report, database: str, reg: modelreg.Client, work: Path, runs: int) -> None:
    spent = [0.0]
    original = audit.record

    def timed_record(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - started

    audit.record = timed_record  # type: ignore[assignment]  # measuring only; restored below
    try:
        with _small_model() as model:
            writes: dict[str, Callable[[int], object]] = {
                "set_alias": lambda i: reg.set_alias("m", "bench", 1 + i % 2),
                "push 1 KiB": lambda i: reg.push("p", _touched(model, i)),
            }
            for label, write in writes.items():
                shares, rates = [], []
                for _ in range(runs):
                    spent[0], calls, started = 0.0, 0, time.perf_counter()
                    while time.perf_counter() - started < _WRITE_SECONDS:
                        write(calls)
                        calls += 1
                    elapsed = time.perf_counter() - started
                    shares.append(100 * spent[0] / elapsed)
                    rates.append(calls / elapsed)
                share, rate = summarise(shares), summarise(rates)
                report.add(f"{database}: {label} calls/s", f"{rate.median:.0f}", rate.spread(".0f"))
                report.add(
                    f"{database}: {label}: time in the audit chain",
                    f"{share.median:.1f} %",
                    share.spread(".1f"),
                    "< 10 %",
                    share.median < 10,
                )
    finally:
        audit.record = original  # type: ignore[assignment]


def _touched(model: Path, i: int) -> Path:
    (model / "w.bin").write_bytes(i.to_bytes(8, "big") + b"\0" * 1016)
    return model


if __name__ == "__main__":
    raise SystemExit(main())
