"""Run every benchmark, one process each, and print one table of all their figures.

    .venv/bin/python benchmarks/run_all.py                  # everything, about 6–9 minutes on 2 cores
    .venv/bin/python benchmarks/run_all.py --only cli_startup,metadata
    .venv/bin/python benchmarks/run_all.py --markdown       # the table as Markdown too (docs/benchmarks.md)

Each benchmark prints its own figures as it goes; this script collects them (through ``--json``) and ends
with the summary. Benchmarks run one after another, never in parallel: on 2 cores they would measure each
other. The exit status is 1 when any target fails (or a benchmark crashes), else 0.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, Row, format_table, machine

BENCHMARKS = ("baseline", "cli_startup", "push_pull", "safetensors_dedup", "metadata")
HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description="Run every benchmark and print one table.")
    parser.add_argument("--only", help=f"comma-separated subset of: {','.join(BENCHMARKS)}")
    parser.add_argument("--markdown", action="store_true", help="also print the summary as a Markdown table")
    args = parser.parse_args()
    chosen = args.only.split(",") if args.only else list(BENCHMARKS)
    unknown = sorted(set(chosen) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    rows: list[Row] = []
    notes: list[str] = []
    crashed: list[str] = []
    started = time.perf_counter()
    info = machine()
    cpus = f"{info['cpus']} CPUs ({info['cpu_model']})"
    print(f"modelreg benchmarks · {_commit()} · Python {info['python']} · {cpus}")
    if float(str(info["loadavg_1m"])) > 1.0:
        busy = f"load average {info['loadavg_1m']}"
        print(f"warning: {busy}: other work on this machine will lower these figures", file=sys.stderr)
    for name in chosen:
        took, result = _run(name)
        if result is None:
            crashed.append(name)
            continue
        rows.extend(Row(**row) for row in result["rows"])
        notes.extend(f"{name}: {text}" for text in result["notes"])
        print(f"-- {name} took {took:.0f} s (load average {result['machine']['loadavg_1m']} at its end)\n")
    print(f"== summary ({time.perf_counter() - started:.0f} s in all)")
    print(format_table(rows))
    for text in notes:
        print(f"note: {text}")
    if args.markdown:
        print()
        print(_markdown(rows))
    for name in crashed:
        print(f"error: {name} failed; see its output above", file=sys.stderr)
    return 1 if crashed or any(row.ok is False for row in rows) else 0


def _run(name: str) -> tuple[float, dict[str, list] | None]:
    with tempfile.TemporaryDirectory(prefix="modelreg-bench-") as scratch:
        output = Path(scratch) / f"{name}.json"
        started = time.perf_counter()
        process = subprocess.run(
            [sys.executable, str(HERE / f"{name}.py"), "--json", str(output)], cwd=REPO, check=False
        )
        took = time.perf_counter() - started
        if process.returncode != 0 or not output.exists():
            return took, None
        return took, json.loads(output.read_text())


def _markdown(rows: list[Row]) -> str:
    lines = [
        "| benchmark | metric | median | spread (min – max) | target | result |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.benchmark} | {r.metric} | {r.value} | {r.spread} | {r.target or '—'} | {r.verdict} |"
        for r in rows
    ]
    return "\n".join(lines)


def _commit() -> str:
    git = shutil.which("git")
    if git is None:
        return "commit unknown"
    result = subprocess.run(
        [git, "describe", "--always", "--dirty"], cwd=REPO, capture_output=True, text=True, check=False
    )
    return f"commit {result.stdout.strip()}" if result.returncode == 0 else "commit unknown"


if __name__ == "__main__":
    raise SystemExit(main())
