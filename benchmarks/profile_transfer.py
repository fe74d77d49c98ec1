"""Where push and pull spend their CPU: per-stage CPU seconds per GiB, for the profile in docs/benchmarks.md.

Not a benchmark (``run_all.py`` does not run it) but the evidence behind the push/pull analysis. cProfile
only sees the main thread, and transfers work in thread pools, so this wraps the stages instead and adds up
``time.thread_time()`` (CPU time of the calling thread) spent inside each, whichever thread runs it. CPU time
hardly moves when other processes compete for the cores, unlike wall time, so these figures are comparable
between runs on a busy machine. The stage functions are private; a stage whose name no longer exists is
reported as missing rather than failing the run.

It pushes a new file of ``--size-mib`` random bytes, re-pushes it (answered by the stat cache), re-pushes it
again with the stat cache removed (the file is hashed), pulls it with a cold cache, then again with the cache
filled, and once more with no cache (the embedded default), into an embedded registry (SQLite + file://
store) under ``benchmarks/.data/``.

Run:  .venv/bin/python benchmarks/profile_transfer.py [--size-mib 1024]
"""

from __future__ import annotations

import argparse
import collections
import functools
import importlib
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import modelreg
from _common import MB, banner, measured, random_file, scratch_dir
from modelreg.transfer.statcache import RACY_NS

# (module, attribute path, label): each is wrapped where it is looked up at call time. Stages nest: the
# store's re-verify counts inside the store's get, which counts inside the pull's fetch-and-write.
STAGES = [
    ("modelreg.transfer.push", "_hash_file", "push: whole-file sha256 of a small file (before chunking)"),
    ("modelreg.transfer.push", "_hash_mapped", "push: whole-file sha256 of a large file (beside chunking)"),
    ("modelreg.transfer.push", "split", "push: split (calling thread; FastCDC's own threads not counted)"),
    ("modelreg.transfer.push", "sha256_bytes", "push: chunk sha256 (client)"),
    ("modelreg.blobs.file", "check_chunk", "store: sha256 verify (get; put only when not pre-verified)"),
    ("modelreg.blobs.file", "FileChunkStore._write_temp", "store put: write temp file + fdatasync"),
    ("modelreg.blobs.file", "FileChunkStore._publish", "store put: mkdir / link + directory fsyncs"),
    ("modelreg.blobs.file", "FileChunkStore.get", "store get: read + sha256 verify"),
    ("modelreg.registry.service", "Registry.commit_version", "registry: commit_version"),
    ("modelreg.registry.service", "Registry.read_chunks", "registry: authorise a batch (once per ~8 MiB)"),
    ("modelreg.transfer.pull", "_Assembly._fetch_and_write", "pull: pool threads, fetch a batch + pwrite"),
    ("modelreg.transfer.pull", "_Assembly._absorb", "pull: main thread, whole-file sha256 in order"),
    ("modelreg.transfer.pull", "_sync_file", "pull: fdatasync every 128 MiB and each file's fsync"),
    ("modelreg.transfer.cache", "ChunkCache.read", "pull: cache read (pread + sha256)"),
    ("modelreg.transfer.cache", "ChunkCache.keep", "pull: cache keep (index; a copy where no link)"),
]


class Stages:
    def __init__(self) -> None:
        self.cpu: dict[str, float] = collections.defaultdict(float)
        self.missing: list[str] = []
        self._lock = threading.Lock()

    def install(self) -> None:
        for module_name, path, label in STAGES:
            owner: Any = importlib.import_module(module_name)
            *parents, name = path.split(".")
            for parent in parents:
                owner = getattr(owner, parent, None)
            if owner is None or not hasattr(owner, name):
                self.missing.append(f"{module_name}.{path}")
                continue
            setattr(owner, name, self._wrap(getattr(owner, name), label))

    def _wrap(self, function: Callable[..., Any], label: str) -> Callable[..., Any]:
        # Only the calling thread's CPU time: a push's split now runs while other threads hash and upload,
        # so the process's CPU time would charge their work to it.
        clock = time.thread_time

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = clock()
            try:
                return function(*args, **kwargs)
            finally:
                with self._lock:
                    self.cpu[label] += clock() - started

        return wrapper


def main() -> int:
    parser = argparse.ArgumentParser(description="Per-stage CPU time of push and pull.")
    parser.add_argument("--size-mib", type=int, default=1024)
    args = parser.parse_args()
    size = args.size_mib * 1024 * 1024
    banner(f"profile_transfer: {args.size_mib} MiB")
    stages = Stages()
    stages.install()
    for name in stages.missing:
        print(f"  (stage {name} not found in this version of modelreg: not measured)")
    with scratch_dir("profile") as root:
        source = root / "weights.bin"
        random_file(source, size)
        time.sleep(RACY_NS / 1e9)  # else the stat cache would not remember a file written this recently
        with modelreg.connect(root / "registry", actor="bench", cache_dir=root / "cache") as reg:
            steps: list[tuple[str, Callable[[], object]]] = [
                ("push (new file)", lambda: reg.push("bench", source)),
                ("re-push (unchanged, stat cache)", lambda: reg.push("bench", source)),
                ("re-push (unchanged, re-hashed)", lambda: _forget_stats(root / "cache", reg, source)),
                ("pull, cold cache", lambda: reg.pull("bench/1", dest=root / "cold")),
                ("pull, cached", lambda: reg.pull("bench/1", dest=root / "cached")),
            ]
            for label, step in steps:
                _profile(label, step, stages, size)
        with modelreg.connect(root / "registry", actor="bench") as reg:  # the embedded default: no cache
            _profile("pull, no cache", lambda: reg.pull("bench/1", dest=root / "plain"), stages, size)
    return 0


def _forget_stats(cache: Path, reg: Any, source: Path) -> object:
    (cache / "stat-cache.json").unlink()
    return reg.push("bench", source)


def _profile(label: str, step: Callable[[], object], stages: Stages, size: int) -> None:
    stages.cpu.clear()
    cost = measured(step)
    per_gib = (1024**3) / size
    print(f"\n{label}: {size / cost.wall / MB:.0f} MB/s wall, {cost.cpu * per_gib:.2f} CPU-s per GiB in all")
    for name, seconds in sorted(stages.cpu.items(), key=lambda item: -item[1]):
        print(f"  {seconds * per_gib:5.2f} CPU-s/GiB  {name}")


if __name__ == "__main__":
    raise SystemExit(main())
