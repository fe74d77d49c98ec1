"""Where push and pull spend their CPU: per-stage CPU seconds per GiB, for the profile in docs/benchmarks.md.

Not a benchmark (``run_all.py`` does not run it) but the evidence behind the push/pull analysis. cProfile
only sees the main thread, and transfers work in thread pools, so this wraps the stages instead and adds up
``time.thread_time()`` (CPU time of the calling thread) spent inside each, whichever thread runs it. CPU time
hardly moves when other processes compete for the cores, unlike wall time, so these figures are comparable
between runs on a busy machine. The stage functions are private; a stage whose name no longer exists is
reported as missing rather than failing the run.

It pushes a new file of ``--size-mib`` random bytes, re-pushes it, pulls it with a cold cache, then again
with the cache filled, into an embedded registry (SQLite + file:// store) under ``benchmarks/.data/``.

Run:  .venv/bin/python benchmarks/profile_transfer.py [--size-mib 1024]
"""

from __future__ import annotations

import argparse
import collections
import functools
import importlib
import resource
import threading
import time
from collections.abc import Callable
from typing import Any

import modelreg
from _common import MB, banner, measured, random_file, scratch_dir

# (module, attribute path, label): each is wrapped where it is looked up at call time. Stages nest: the
# store's re-verify also counts inside read_chunk, and the store's put stages inside nothing else.
STAGES = [
    ("modelreg.transfer.push", "_hash_file", "push: whole-file sha256 (one thread, before chunking)"),
    ("modelreg.transfer.push", "split", "push: split (FastCDC / safetensors; process CPU, its own threads)"),
    ("modelreg.transfer.push", "sha256_bytes", "push: chunk sha256 (client)"),
    ("modelreg.blobs.file", "check_chunk", "store: sha256 re-verify on put and on get"),
    ("modelreg.blobs.file", "FileChunkStore._write_temp", "store put: write temp file + fdatasync"),
    ("modelreg.blobs.file", "FileChunkStore._publish", "store put: mkdir / link + directory fsyncs"),
    ("modelreg.registry.service", "Registry.commit_version", "registry: commit_version"),
    ("modelreg.registry.service", "Registry.manifest", "registry: manifest (once per pull)"),
    (
        "modelreg.registry.service",
        "Registry.read_chunk",
        "registry: read_chunk (authorise, store get, re-verify)",
    ),
    ("modelreg.transfer.pull", "_write", "pull: main thread, whole-file sha256 + write"),
    ("modelreg.transfer.cache", "ChunkCache.get", "pull: cache get (read + sha256)"),
    ("modelreg.transfer.cache", "ChunkCache.put", "pull: cache put (write + rename)"),
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
        # split() runs its own thread pool while the caller waits, so it is charged the whole process's CPU
        # time (nothing else runs during it); every other stage, only its calling thread's.
        clock = _process_cpu if "process CPU" in label else time.thread_time

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = clock()
            try:
                return function(*args, **kwargs)
            finally:
                with self._lock:
                    self.cpu[label] += clock() - started

        return wrapper


def _process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


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
        with modelreg.connect(root / "registry", actor="bench", cache_dir=root / "cache") as reg:
            steps: list[tuple[str, Callable[[], object]]] = [
                ("push (new file)", lambda: reg.push("bench", source)),
                ("re-push (unchanged)", lambda: reg.push("bench", source)),
                ("pull, cold cache", lambda: reg.pull("bench/1", dest=root / "cold")),
                ("pull, cached", lambda: reg.pull("bench/1", dest=root / "cached")),
            ]
            for label, step in steps:
                _profile(label, step, stages, size)
    return 0


def _profile(label: str, step: Callable[[], object], stages: Stages, size: int) -> None:
    stages.cpu.clear()
    cost = measured(step)
    per_gib = (1024**3) / size
    print(f"\n{label}: {size / cost.wall / MB:.0f} MB/s wall, {cost.cpu * per_gib:.2f} CPU-s per GiB in all")
    for name, seconds in sorted(stages.cpu.items(), key=lambda item: -item[1]):
        print(f"  {seconds * per_gib:5.2f} CPU-s/GiB  {name}")


if __name__ == "__main__":
    raise SystemExit(main())
