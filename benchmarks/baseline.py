"""This machine's physical limits, measured now: the ceilings the transfer figures should be read against.

No targets: these say what the hardware gives at the moment the other benchmarks run (other processes on a
shared 2-core machine lower them, and the spread shows it). Each figure is the median of ``--runs`` runs:

- sha256 on one core, over a 256 MiB buffer in memory (hashlib / OpenSSL);
- sha256 on all cores: 1 MiB pieces of the same buffer hashed by a thread pool (hashlib releases the GIL);
- FastCDC (pyfastcdc, the settings modelreg uses) over the same buffer, one thread;
- reading a 512 MiB file that is in the page cache, 8 MiB at a time;
- writing 512 MiB to a new file in 1 MiB writes, then one fsync (sequential, durable).

Run:  .venv/bin/python benchmarks/baseline.py [--runs 3]
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pyfastcdc import FastCDC

from _common import MB, Report, banner, parse_args, scratch_dir, summarise, timed

BUFFER = 256 * 1024 * 1024
FILE = 512 * 1024 * 1024
PIECE = 1024 * 1024


def main() -> int:
    args = parse_args(__doc__ or "", runs=3)
    banner(f"baseline: {args.runs} runs")
    report = Report("baseline", args.json)
    data = os.urandom(BUFFER)
    view = memoryview(data)
    pieces = [view[start : start + PIECE] for start in range(0, BUFFER, PIECE)]
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    with ThreadPoolExecutor(cpus) as pool, scratch_dir("baseline") as root:
        figures = {
            "sha256, one core": lambda: hashlib.sha256(data).digest(),
            f"sha256, {cpus} threads": lambda: list(pool.map(lambda p: hashlib.sha256(p).digest(), pieces)),
            "FastCDC (avg 768 KiB setting), one thread": lambda: _cut(view),
        }
        for label, work in figures.items():
            _add(report, label, [BUFFER / timed(work) / MB for _ in range(args.runs)])
        source = root / "read.bin"
        source.write_bytes(data + data)
        _add(
            report,
            "read from page cache",
            [FILE / timed(lambda: _read(source)) / MB for _ in range(args.runs)],
        )
        _add(
            report,
            "write + fsync",
            [FILE / timed(lambda: _write(root / "write.bin", view)) / MB for _ in range(args.runs)],
        )
    return report.finish()


def _add(report: Report, label: str, samples: list[float]) -> None:
    stats = summarise(samples)
    report.add(f"{label} (MB/s)", f"{stats.median:.0f}", stats.spread(".0f"))


def _cut(view: memoryview) -> int:
    cutter = FastCDC(768 * 1024, min_size=256 * 1024, max_size=4 * 1024 * 1024, normalized_chunking=2)
    return sum(1 for _ in cutter.cut_buf(view))


def _read(path: Path) -> None:
    buffer = bytearray(8 * 1024 * 1024)
    with open(path, "rb", buffering=0) as handle:
        while handle.readinto(buffer):
            pass


def _write(path: Path, view: memoryview) -> None:
    with open(path, "wb", buffering=0) as handle:
        for _ in range(FILE // BUFFER):
            for start in range(0, BUFFER, PIECE):
                handle.write(view[start : start + PIECE])
        os.fsync(handle.fileno())
    path.unlink()


if __name__ == "__main__":
    raise SystemExit(main())
