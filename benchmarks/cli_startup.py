"""CLI start-up time: a new process for every call, as a user (or a CI step) pays it.

Measured, each ``--runs`` times (default 15, at least 10) after one discarded warm-up run that makes sure the
bytecode caches exist, as wall-clock time of ``subprocess.run`` with output captured:

- ``.venv/bin/modelreg --help``: target median < 300 ms;
- ``.venv/bin/python -c "import modelreg"``: the SDK's import cost (lazy: ``connect`` is imported on use);
- ``.venv/bin/python -c "import modelreg.cli.app"``: everything ``--help`` imports, without rendering help;
- ``.venv/bin/python -c pass``: the interpreter's own start-up, the floor for all of the above.

"Cold" means a new interpreter each time; files are in the page cache, and ``.pyc`` files exist (as after
``pip install``). ``MODELREG_*`` variables are removed from the environment.

Run:  .venv/bin/python benchmarks/cli_startup.py [--runs 15]
Import breakdown:  .venv/bin/python -X importtime -c "import modelreg.cli.app" 2>&1 | sort -t'|' -k2 -n
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from _common import REPO, Report, banner, parse_args, require, summarise

TARGET_MS = 300.0
BIN = Path(sys.executable).parent  # the virtualenv's bin/, wherever this runs from


def main() -> int:
    args = parse_args(__doc__ or "", runs=15)
    require(args.runs >= 10, "--runs must be at least 10 for CLI start-up")
    banner(f"cli_startup: {args.runs} runs each")
    report = Report("cli_startup", args.json)
    python = str(BIN / "python")
    commands = [
        ("modelreg --help", [str(BIN / "modelreg"), "--help"], TARGET_MS),
        ('python -c "import modelreg"', [python, "-c", "import modelreg"], None),
        ('python -c "import modelreg.cli.app"', [python, "-c", "import modelreg.cli.app"], None),
        ("python -c pass (interpreter floor)", [python, "-c", "pass"], None),
    ]
    for label, command, target in commands:
        samples = _time(command, args.runs)
        stats = summarise(samples)
        report.add(
            f"{label} (ms)",
            f"{stats.median:.0f}",
            stats.spread(".0f"),
            f"< {target:.0f} ms" if target is not None else "",
            stats.median < target if target is not None else None,
        )
    return report.finish()


def _time(command: list[str], runs: int) -> list[float]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MODELREG_")}
    _run(command, env)  # warm-up: bytecode caches, page cache
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        _run(command, env)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def _run(command: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(command, capture_output=True, env=env, cwd=REPO, check=False)
    require(
        result.returncode == 0, f"{' '.join(command)} exited {result.returncode}: {result.stderr[-500:]!r}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
