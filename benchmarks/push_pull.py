"""Push and pull throughput of one large file through the embedded SDK (SQLite + file:// chunk store).

What it measures, each ``--runs`` times (default 3) on a fresh registry, reporting the median and the range:

1. push of a new 1 GiB file of random bytes (nothing to dedup): every byte hashed, chunked and stored;
2. re-push of the same, unchanged file: the stat cache vouches for it, so it is not even read (checked:
   ``reg.last_push.bytes_stored == 0`` and ``bytes_hashed == 0``);
3. the same re-push with the stat cache deleted first: the file is hashed, found known, nothing written;
4. pull with a cold cache (``cache_dir=`` a fresh directory): every chunk read from the store, verified,
   cached and assembled; the result is checked byte-for-byte against the source's sha256, outside the timing;
5. pull of the same version again: every chunk comes from the local cache (checked:
   ``reg.last_pull.bytes_fetched == 0``);
6. pull with no cache at all, the embedded default (a local store needs none): read, verified, assembled.

The source file is left 2 s before the first push: the stat cache does not remember a file changed less
than that before a push (``transfer.statcache``), which would make run 1's re-push a re-hash.

Throughput is file bytes / wall-clock seconds of the SDK call, in MB/s (10**6 B/s). Nothing is dropped from
the page cache (that needs root): the source file, the chunk store and the cache are page-cache warm, so
these figures are CPU/fsync bound, not disk-read bound. Writes are real: the chunk store fsyncs every chunk
and a pull fsyncs the file it assembles.

Data lives in ``benchmarks/.data/`` (about 5.5 GiB at peak) and is removed at the end.

Run:  .venv/bin/python benchmarks/push_pull.py [--runs 3] [--size-mib 1024]
"""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path

import modelreg
from _common import (
    MB,
    Cost,
    Report,
    banner,
    measured,
    parse_args,
    random_file,
    require,
    scratch_dir,
    summarise,
)
from modelreg.transfer.statcache import RACY_NS

TARGETS = {  # MB/s, from the issue (which names no cache setting: both pulls are held to it)
    "push": 400.0,
    "repush": 1000.0,
    "repush_hashed": 1000.0,
    "pull_cold": 500.0,
    "pull_plain": 500.0,
}
_KEYS = ("push", "repush", "repush_hashed", "pull_cold", "pull_cached", "pull_plain")


def main() -> int:
    args = parse_args(
        __doc__ or "", runs=3, extra=lambda p: p.add_argument("--size-mib", type=int, default=1024)
    )
    size = args.size_mib * 1024 * 1024
    banner(f"push_pull: {args.size_mib} MiB, {args.runs} runs")
    report = Report("push_pull", args.json)
    costs: dict[str, list[Cost]] = {key: [] for key in _KEYS}
    with scratch_dir("push_pull") as root:
        source = root / "weights.bin"
        random_file(source, size)
        expected = _sha256(source)
        time.sleep(RACY_NS / 1e9)  # the stat cache does not remember a file written less than 2 s before
        for run in range(args.runs):
            figures = _one_run(root / f"run{run}", source, size, expected)
            shown = (
                f"{key} {size / cost.wall / MB:.0f} MB/s ({cost.cpu:.2f} s CPU)"
                for key, cost in figures.items()
            )
            print(f"  run {run + 1}: " + ", ".join(shown), flush=True)
            for key, cost in figures.items():
                costs[key].append(cost)
    samples = {key: [size / cost.wall / MB for cost in runs] for key, runs in costs.items()}
    size_label = f"{args.size_mib} MiB"
    for key, label in (
        ("push", f"push new {size_label}"),
        ("repush", f"re-push unchanged {size_label} (0 B stored, stat cache)"),
        ("repush_hashed", f"re-push unchanged {size_label} (0 B stored, file re-hashed)"),
        ("pull_cold", f"pull {size_label}, cold cache, verified"),
        ("pull_plain", f"pull {size_label}, no cache (embedded default), verified"),
    ):
        stats = summarise(samples[key])
        report.add(
            f"{label} (MB/s)",
            f"{stats.median:.0f}",
            stats.spread(".0f"),
            f"≥ {TARGETS[key]:.0f}",
            stats.median >= TARGETS[key],
        )
    stats = summarise(samples["pull_cached"])
    report.add(
        f"pull {size_label}, cached: bytes_fetched == 0 (MB/s)",
        f"{stats.median:.0f}",
        stats.spread(".0f"),
        "0 B read from store",
        True,  # _one_run stops the benchmark unless bytes_fetched == 0 on every run
    )
    for key, label in (
        ("push", "push"),
        ("repush", "re-push (stat cache)"),
        ("repush_hashed", "re-push (re-hashed)"),
        ("pull_cold", "cold pull"),
        ("pull_cached", "cached pull"),
        ("pull_plain", "pull without cache"),
    ):
        cpu = summarise([cost.cpu for cost in costs[key]])
        report.add(f"{label}: CPU time, all threads (s)", f"{cpu.median:.2f}", cpu.spread(".2f"))
    report.note("files are page-cache warm (nothing dropped); chunk writes and pulled files are fsynced")
    return report.finish()


def _one_run(work: Path, source: Path, size: int, expected: str) -> dict[str, Cost]:
    work.mkdir()
    registry = work / "registry"
    try:
        with modelreg.connect(registry, actor="bench") as reg:
            push = measured(lambda: reg.push("bench", source))
            require(
                reg.last_push is not None and reg.last_push.bytes_stored == size, f"push: {reg.last_push}"
            )
            repush = measured(lambda: reg.push("bench", source))
            stored = reg.last_push.bytes_stored if reg.last_push else -1
            hashed = reg.last_push.bytes_hashed if reg.last_push else -1
            require((stored, hashed) == (0, 0), f"re-push stored {stored} B, hashed {hashed} B")
            (registry / "stat-cache.json").unlink()  # forget the stat cache: the file is hashed again
            rehashed = measured(lambda: reg.push("bench", source))
            stored = reg.last_push.bytes_stored if reg.last_push else -1
            require(stored == 0, f"re-hashed re-push stored {stored} bytes")
        with modelreg.connect(registry, actor="bench", cache_dir=work / "cache") as reg:
            cold = measured(lambda: reg.pull("bench/1", dest=work / "cold"))
            require(
                reg.last_pull is not None and reg.last_pull.bytes_fetched == size, f"pull: {reg.last_pull}"
            )
            require(_sha256(work / "cold" / source.name) == expected, "cold pull differs from the source")
            shutil.rmtree(work / "cold")
            cached = measured(lambda: reg.pull("bench/1", dest=work / "cached"))
            fetched = reg.last_pull.bytes_fetched if reg.last_pull else -1
            require(fetched == 0, f"cached pull read {fetched} B from the store")
            require(_sha256(work / "cached" / source.name) == expected, "cached pull differs from the source")
        with modelreg.connect(registry, actor="bench") as reg:  # the embedded default: no pull cache
            plain = measured(lambda: reg.pull("bench/1", dest=work / "plain"))
            require(_sha256(work / "plain" / source.name) == expected, "pull differs from the source")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "push": push,
        "repush": repush,
        "repush_hashed": rehashed,
        "pull_cold": cold,
        "pull_cached": cached,
        "pull_plain": plain,
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(8 * 1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


if __name__ == "__main__":
    raise SystemExit(main())
