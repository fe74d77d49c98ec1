"""modelreg's server against MLflow's, on this machine, in the same run: metadata calls and artifact transfer.

MLflow is not a dependency of modelreg and this script installs nothing. Create its virtualenv once:

    python3 -m venv /tmp/mlflow-venv && /tmp/mlflow-venv/bin/pip install 'mlflow>=3,<4'

then run (about 10–20 minutes on 2 cores, most of it seeding MLflow):

    .venv/bin/python benchmarks/vs_mlflow.py --mlflow-venv /tmp/mlflow-venv        # or $MLFLOW_VENV

What runs. Two servers on loopback, each over a fresh SQLite database in ``benchmarks/.data/``:

- ``mlflow server --backend-store-uri sqlite:///… --serve-artifacts --artifacts-destination …`` (its
  defaults otherwise: uvicorn, 4 workers);
- ``modelreg serve`` over a registry directory (SQLite + file chunk store), ``--server-workers`` processes.

MLflow is driven through its own client (``MlflowClient``), from ``benchmarks/_mlflow_worker.py`` run by the
MLflow virtualenv's python; modelreg through ``modelreg.connect("http://…")``, its HTTP SDK, from this
process. Both clients keep connections alive (requests' session pool; httpx's). Every metadata figure uses
the same load generator (``_mlflow_worker.run_load``), with 1 and with ``--threads`` (8) client threads.

The workload, per registry:

- create version: MLflow ``create_model_version(name, source, run_id, tags)``, pointing at an artifact
  logged once; modelreg ``push(name, file, tags=…)`` of the same 1 KiB file, i.e. the whole SDK sequence a
  push makes (hash, ``files/known``, ``chunks/missing``, commit). The creates also seed the registries for
  the search figure: every version gets ``team`` (10 values, so ``risk`` is 10 %) and ``framework`` tags.
  Sequential creates first (``--runs`` runs of 50), then ``--runs`` equal runs with ``--threads`` threads
  up to ``--versions`` (10,000) in all. When MLflow's measured rate makes that longer than
  ``--seed-budget`` seconds, both registries are seeded to the smaller count that fits, and it is said.
- get version by alias (``@champion``), set alias (each thread moves its own alias over the versions),
  search (``name = 'bench' AND tags.team = 'risk'``, ordered by version number, 100 results, checked):
  ``--runs`` runs of ``--seconds`` each, after warm-up calls on every thread.
- transfer: a file of ``--size-mib`` (1 GiB) random bytes, new each run: MLflow ``log_artifact`` into a
  new run (a full upload, as MLflow stores every version's bytes in full) and ``download_artifacts``;
  modelreg ``push`` (client hashes and chunks; the server verifies every chunk and the whole-file digest)
  and ``pull`` with a cold local cache (every chunk and file verified by the client). The downloads are
  checked against the source's sha256 outside the timing. MLflow verifies nothing, so its figures are
  the cheaper operation. Then modelreg re-pushes the unchanged file.
- changed model: a ``--changed-mib`` (512 MiB) safetensors file of 100 tensors, pushed once; each run
  rewrites 5 of its tensors (5 %) and pushes it again; MLflow uploads the new file in full.

Throughput is calls / wall-clock seconds of a run; latency percentiles are nearest-rank over every call of
a run. Every figure is the median over ``--runs`` runs, with the range. Ratios are modelreg ÷ MLflow for
throughput and MLflow time ÷ modelreg time for transfers (higher is better for modelreg). "Bytes sent" is
the request bytes the modelreg server received (summed from its access log) and, for MLflow, the size of
the artifact it stored.

Targets (the issue's): metadata, at ``--threads`` threads: throughput ≥ 20× MLflow's and p99 ≤ MLflow's p50
(checked at 1 thread too); first upload ≥ MLflow's MB/s; download ≥ 2× MLflow's; re-push of the unchanged
file and push of the 5 %-changed model ≥ 10× faster than MLflow's full upload.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import modelreg
from _common import (
    MB,
    Report,
    Summary,
    banner,
    free_port,
    parse_args,
    percentile,
    require,
    scratch_dir,
    server_process,
    summarise,
    wait_ready,
)
from _mlflow_worker import (
    ALIAS,
    MODEL,
    SEARCH_FILTER,
    SEARCH_LIMIT,
    SEARCH_ORDER,
    TEAMS,
    Load,
    check_search,
    run_load,
)

HERE = Path(__file__).resolve().parent
WORKER = HERE / "_mlflow_worker.py"
SEQUENTIAL_RUN = 50  # creates per sequential run
PROBE = 200  # threaded creates that measure MLflow's rate before the seeding is sized
WARMUP = 5  # calls per thread before a timed run
TENSORS, CHANGED = 100, 5  # the changed-model scenario: 5 of 100 tensors (5 %) rewritten per run
METADATA_RATIO, UPLOAD_RATIO, DOWNLOAD_RATIO, DEDUP_RATIO = 20.0, 1.0, 2.0, 10.0
MODELREG = Path(sys.executable).parent / "modelreg"
# MLflow 3's server also starts background job consumers (GenAI evaluation, trace rollups) that poll its
# database all the time: ~0.5 of a core here, taken from whichever registry is being measured. The registry
# workload uses no jobs, so they are off.
MLFLOW_SERVER_ENV = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


def main() -> int:
    args = parse_args(__doc__ or "", runs=3, extra=_options)
    python = Path(args.mlflow_venv or "") / "bin" / "python"
    if not args.mlflow_venv or not python.exists():
        raise SystemExit("give --mlflow-venv (or $MLFLOW_VENV): a virtualenv with mlflow>=3 (see --help)")
    banner(f"vs_mlflow: {args.threads} threads, {args.runs} runs, {args.size_mib} MiB transfers")
    report = Report("vs_mlflow", args.json)
    with scratch_dir("vs_mlflow") as root, _servers(root, python, args) as (mlflow, ours):
        mlflow.setup = mlflow.run("setup", scratch=str(mlflow.scratch))
        if "metadata" in args.parts:
            _metadata(report, mlflow, ours, args)
        if "transfers" in args.parts:
            _transfers(report, mlflow, ours, root, args)
    return report.finish()


def _options(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--mlflow-venv", default=os.environ.get("MLFLOW_VENV"), help="virtualenv with mlflow>=3,<4")
    add("--threads", type=int, default=8, help="client threads for the concurrent figures (default 8)")
    add(
        "--versions", type=int, default=10_000, help="versions to seed for the search figure (default 10,000)"
    )
    add("--seed-budget", type=float, default=600.0, help="seconds MLflow's seeding may take (default 600)")
    add("--seconds", type=float, default=4.0, help="length of one latency/throughput run (default 4 s)")
    add("--size-mib", type=int, default=1024, help="size of the transferred file (default 1024)")
    add("--changed-mib", type=int, default=512, help="size of the changed safetensors model (default 512)")
    add("--server-workers", type=int, default=2, help="modelreg serve --workers (default 2)")
    add(
        "--parts",
        type=lambda text: set(text.split(",")),
        default={"metadata", "transfers"},
        help="which figures: metadata, transfers or both (default metadata,transfers)",
    )


# Servers ----------------------------------------------------------------------------------------------------
@dataclass
class MlflowSide:
    url: str
    python: Path
    scratch: Path
    log: Path
    setup: dict[str, Any] | None = None

    def run(self, op: str, **job: Any) -> dict[str, Any]:
        """One job in the MLflow virtualenv (a fresh process: MLflow's import is outside any timing)."""
        environment = {**os.environ, "MLFLOW_TRACKING_URI": self.url, "PYTHONPATH": str(HERE)}
        with open(self.log, "a") as log:
            done = subprocess.run(
                [str(self.python), str(WORKER), json.dumps({"op": op, **(self.setup or {}), **job})],
                stdout=subprocess.PIPE,
                stderr=log,
                env=environment,
                check=False,
                text=True,
            )
        require(done.returncode == 0, f"MLflow worker {op} failed (see {self.log})")
        result: dict[str, Any] = json.loads(done.stdout)
        return result


@dataclass
class ModelregSide:
    url: str
    client: Any  # modelreg.Client over HTTP
    access_log: Path

    def mark(self) -> int:
        return self.access_log.stat().st_size

    def received_since(self, mark: int) -> int:
        """Request body bytes received since ``mark`` (every worker writes to the one access log)."""
        time.sleep(0.2)  # the last request's line is written just after its response
        with open(self.access_log, "rb") as log:
            log.seek(mark)
            lines = log.read().decode().splitlines()
        return sum(json.loads(line).get("bytes_in", 0) for line in lines if line.startswith("{"))


@contextlib.contextmanager
def _servers(root: Path, python: Path, args: argparse.Namespace) -> Iterator[tuple[MlflowSide, ModelregSide]]:
    mlflow_dir, ours_dir = root / "mlflow", root / "modelreg"
    mlflow_dir.mkdir()
    ours_dir.mkdir()
    mlflow_port, ours_port = free_port(), free_port()
    mlflow_cmd = [
        str(python.parent / "mlflow"),
        "server",
        "--backend-store-uri",
        f"sqlite:///{mlflow_dir / 'mlflow.db'}",
        "--serve-artifacts",
        "--artifacts-destination",
        str(mlflow_dir / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(mlflow_port),
    ]
    ours_cmd = [str(MODELREG), "--registry", str(ours_dir / "registry"), "serve", "--port", str(ours_port)]
    ours_cmd += ["--workers", str(args.server_workers)]
    access_log = ours_dir / "access.log"
    with (
        server_process(mlflow_cmd, mlflow_dir / "server.log", env={**os.environ, **MLFLOW_SERVER_ENV}),
        server_process(ours_cmd, ours_dir / "server.log", stdout=access_log),
    ):
        mlflow_url, ours_url = f"http://127.0.0.1:{mlflow_port}", f"http://127.0.0.1:{ours_port}"
        began = time.perf_counter()
        wait_ready(mlflow_url + "/health", ours_url + "/healthz")
        print(f"  both servers answer after {time.perf_counter() - began:.0f} s", flush=True)
        mlflow = MlflowSide(mlflow_url, python, root, mlflow_dir / "worker.log")
        client = modelreg.connect(ours_url, cache_dir=root / "cache-unused")
        try:
            yield mlflow, ModelregSide(ours_url, client, access_log)
        finally:
            client.close()


# Metadata ---------------------------------------------------------------------------------------------------
@dataclass
class Figures:
    """One operation at one concurrency, per run: calls/s, p50 and p99 (seconds)."""

    rates: list[float]
    p50: list[float]
    p99: list[float]

    @classmethod
    def of(cls, loads: list[Load]) -> Figures:
        return cls(
            [load["calls"] / load["seconds"] for load in loads],
            [percentile(load["latencies"], 0.50) for load in loads],
            [percentile(load["latencies"], 0.99) for load in loads],
        )


def _metadata(report: Report, mlflow: MlflowSide, ours: ModelregSide, args: argparse.Namespace) -> None:
    tiny = mlflow.scratch / "model.bin"  # the 1 KiB file MLflow's setup logged: modelreg pushes the same
    results: dict[str, tuple[Figures, Figures]] = {}
    results["create version, 1 thread"] = _sequential_creates(mlflow, ours, tiny, args.runs)
    total, threaded = _seeding(report, mlflow, ours, tiny, args)
    results[f"create version, {args.threads} threads"] = threaded
    mlflow.run("prepare_alias", version=1)
    ours.client.set_alias(MODEL, ALIAS, 1)
    for label, op in (("get version by alias", "get_alias"), ("set alias", "set_alias")):
        for threads in (1, args.threads):
            results[f"{label}, {_threads(threads)}"] = _timed(
                op, mlflow, ours, threads=threads, versions=total, args=args
            )
    for threads in (1, args.threads):
        results[f"search at {total:,} versions, {_threads(threads)}"] = _timed(
            "search", mlflow, ours, threads=threads, versions=total, args=args
        )
    for label, (theirs, mine) in results.items():
        _add_metadata(report, label, theirs, mine, threaded="1 thread" not in label)


def _threads(count: int) -> str:
    return "1 thread" if count == 1 else f"{count} threads"


def _sequential_creates(
    mlflow: MlflowSide, ours: ModelregSide, tiny: Path, runs: int
) -> tuple[Figures, Figures]:
    theirs, mine = [], []
    for run in range(runs):
        offset = run * SEQUENTIAL_RUN
        theirs.append(Load(mlflow.run("create", offset=offset, count=SEQUENTIAL_RUN, threads=1)))
        mine.append(_our_creates(ours, tiny, offset=offset, count=SEQUENTIAL_RUN, threads=1))
    return Figures.of(theirs), Figures.of(mine)


def _seeding(
    report: Report, mlflow: MlflowSide, ours: ModelregSide, tiny: Path, args: argparse.Namespace
) -> tuple[int, tuple[Figures, Figures]]:
    """Seed both registries to the same count; the threaded runs are the create-version figures."""
    offset = args.runs * SEQUENTIAL_RUN
    probe = Load(mlflow.run("create", offset=offset, count=PROBE, threads=args.threads))
    _our_creates(ours, tiny, offset=offset, count=PROBE, threads=args.threads)
    offset += PROBE
    rate = probe["calls"] / probe["seconds"]
    wanted = args.versions - offset
    affordable = int(rate * args.seed_budget)
    if affordable < wanted:
        report.note(
            f"MLflow creates {rate:.0f} versions/s with {args.threads} threads here: seeding "
            f"{args.versions:,} would take {args.versions / rate:.0f} s, over the {args.seed_budget:.0f} s "
            f"budget, so both registries hold {offset + affordable:,} versions"
        )
    remaining = max(args.runs * SEQUENTIAL_RUN, min(wanted, affordable))
    sizes = [remaining // args.runs + (run < remaining % args.runs) for run in range(args.runs)]
    total = offset + remaining
    print(
        f"  seeding both registries to {total:,} versions (runs of {', '.join(map(str, sizes))})", flush=True
    )
    theirs, mine = [], []
    for size in sizes:
        theirs.append(Load(mlflow.run("create", offset=offset, count=size, threads=args.threads)))
        mine.append(_our_creates(ours, tiny, offset=offset, count=size, threads=args.threads))
        offset += size
        print(f"    {offset:,} versions each", flush=True)
    require(ours.client.get_version(MODEL).version == total, f"modelreg holds {total} versions")
    return total, (Figures.of(theirs), Figures.of(mine))


def _our_creates(ours: ModelregSide, tiny: Path, *, offset: int, count: int, threads: int) -> Load:
    def one(_thread: int, index: int) -> None:
        number = offset + index
        ours.client.push(MODEL, tiny, tags={"team": TEAMS[number % len(TEAMS)], "framework": "torch"})

    return run_load(one, threads=threads, count=count)


def _timed(
    op: str, mlflow: MlflowSide, ours: ModelregSide, *, threads: int, versions: int, args: argparse.Namespace
) -> tuple[Figures, Figures]:
    call = _our_call(op, ours, versions)
    theirs, mine = [], []
    for _ in range(args.runs):
        job = {"threads": threads, "seconds": args.seconds, "warmup": WARMUP, "versions": versions}
        theirs.append(Load(mlflow.run(op, **job)))
        mine.append(run_load(call, threads=threads, seconds=args.seconds, warmup=WARMUP))
    return Figures.of(theirs), Figures.of(mine)


def _our_call(op: str, ours: ModelregSide, versions: int) -> Callable[[int, int], object]:
    client = ours.client
    if op == "get_alias":
        return lambda _t, _i: client.get_version(f"{MODEL}@{ALIAS}")
    if op == "set_alias":
        return lambda t, i: client.set_alias(MODEL, f"t{t}", 1 + abs(i) % versions)

    def search(_thread: int, _index: int) -> None:
        found = client.search_versions(SEARCH_FILTER, order_by=SEARCH_ORDER, limit=SEARCH_LIMIT).items
        check_search([version.tags for version in found], versions)

    return search


def _add_metadata(report: Report, label: str, theirs: Figures, mine: Figures, *, threaded: bool) -> None:
    rate_t, rate_m = summarise(theirs.rates), summarise(mine.rates)
    p50_t, p50_m = summarise(theirs.p50), summarise(mine.p50)
    p99_m = summarise(mine.p99)
    ratio = rate_m.median / rate_t.median
    report.add(
        f"{label}: calls/s",
        f"modelreg {rate_m.median:.0f} · MLflow {rate_t.median:.1f} · {ratio:.1f}×",
        f"modelreg {rate_m.spread('.0f')}; MLflow {rate_t.spread('.1f')}",
        f"≥ {METADATA_RATIO:.0f}×" if threaded else "",
        ratio >= METADATA_RATIO if threaded else None,
    )
    report.add(
        f"{label}: modelreg p50/p99 vs MLflow p50 (ms)",
        f"{p50_m.median * 1000:.1f} / {p99_m.median * 1000:.1f} vs {p50_t.median * 1000:.1f}",
        f"modelreg p99 {_ms(p99_m)}; MLflow p50 {_ms(p50_t)}",
        "p99 ≤ MLflow p50",
        p99_m.median <= p50_t.median,
    )


def _ms(stats: Summary) -> str:
    return f"{stats.low * 1000:.1f} – {stats.high * 1000:.1f} ms"


# Transfers --------------------------------------------------------------------------------------------------
def _transfers(
    report: Report, mlflow: MlflowSide, ours: ModelregSide, root: Path, args: argparse.Namespace
) -> None:
    size = args.size_mib * 1024 * 1024
    runs = [_transfer_run(mlflow, ours, root, size) for _ in range(args.runs)]
    for number, run in enumerate(runs, 1):
        print(
            f"  run {number}: upload MLflow {size / run['up_t'] / MB:.0f} MB/s, modelreg "
            f"{size / run['up_m'] / MB:.0f} MB/s; download MLflow {size / run['down_t'] / MB:.0f} MB/s, "
            f"modelreg {size / run['down_m'] / MB:.0f} MB/s; re-push {run['repush']:.2f} s, "
            f"{run['sent']:,.0f} B sent",
            flush=True,
        )

    def column(key: str) -> list[float]:
        return [run[key] for run in runs]

    label = f"{args.size_mib} MiB"
    _add_rate(
        report,
        f"first upload of {label}, verified (MB/s)",
        size=size,
        mine=column("up_m"),
        theirs=column("up_t"),
        target=UPLOAD_RATIO,
    )
    _add_rate(
        report,
        f"download of {label}, verified (MB/s)",
        size=size,
        mine=column("down_m"),
        theirs=column("down_t"),
        target=DOWNLOAD_RATIO,
    )
    _add_speedup(
        report,
        f"re-push of unchanged {label}",
        mine=column("repush"),
        theirs=column("up_t"),
        sent=column("sent"),
        size=size,
    )
    _changed_model(report, mlflow, ours, root, args)


def _transfer_run(mlflow: MlflowSide, ours: ModelregSide, root: Path, size: int) -> dict[str, float]:
    """A new random file: uploaded and downloaded by both, then re-pushed to modelreg unchanged."""
    source = root / "weights.bin"
    _random_file(source, size)
    expected = _sha256(source)
    upload = mlflow.run("upload", path=str(source))
    require(upload["stored_bytes"] == size, "MLflow stored the whole file")
    download = mlflow.run(
        "download", run_id=upload["run_id"], name=source.name, dest=str(_fresh(root / "dl-t"))
    )
    require(_sha256(Path(download["path"])) == expected, "MLflow's download matches the source")
    push = _timed_call(lambda: ours.client.push("weights", source))
    version = ours.client.get_version("weights").version
    pull = _timed_call(lambda: _pull(ours, f"weights/{version}", root))
    require(_sha256(root / "dl-m" / source.name) == expected, "modelreg's pull matches the source")
    mark = ours.mark()
    repush = _timed_call(lambda: ours.client.push("weights", source))
    require(ours.client.last_push.bytes_stored == 0, "the re-push stored nothing")
    return {
        "up_t": upload["seconds"],
        "down_t": download["seconds"],
        "up_m": push,
        "down_m": pull,
        "repush": repush,
        "sent": float(ours.received_since(mark)),
    }


def _changed_model(
    report: Report, mlflow: MlflowSide, ours: ModelregSide, root: Path, args: argparse.Namespace
) -> None:
    """Push a safetensors model once, then per run rewrite 5 % of its tensors and push it again."""
    path = root / "model.safetensors"
    tensor_bytes = args.changed_mib * 1024 * 1024 // TENSORS // 4 * 4
    _write_safetensors(path, tensor_bytes, changed=range(TENSORS))
    ours.client.push("changed", path)
    mine, theirs, sent = [], [], []
    for run in range(args.runs):
        first = (run * CHANGED) % TENSORS
        _write_safetensors(path, tensor_bytes, changed=range(first, first + CHANGED))
        mark = ours.mark()
        mine.append(_timed_call(lambda: ours.client.push("changed", path)))
        sent.append(float(ours.received_since(mark)))
        stored = ours.client.last_push.bytes_stored
        upload = mlflow.run("upload", path=str(path))
        theirs.append(upload["seconds"])
        print(
            f"  run {run + 1}: 5 % changed: modelreg push {mine[-1]:.2f} s ({sent[-1]:,.0f} B sent, "
            f"{stored:,} B of chunks stored); MLflow full upload {theirs[-1]:.2f} s "
            f"({upload['stored_bytes']:,} B)",
            flush=True,
        )
    _add_speedup(
        report,
        f"push of {args.changed_mib} MiB model, 5 % of tensors changed",
        mine=mine,
        theirs=theirs,
        sent=sent,
        size=path.stat().st_size,
    )


def _timed_call(fn: Callable[[], object]) -> float:
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


def _pull(ours: ModelregSide, ref: str, root: Path) -> None:
    """A pull with a cold cache: a fresh cache directory, so every chunk comes from the server."""
    cache = _fresh(root / "pull-cache")
    with modelreg.connect(ours.url, cache_dir=cache) as client:
        client.pull(ref, dest=_fresh(root / "dl-m"), overwrite=True)


def _add_rate(
    report: Report, label: str, *, size: int, mine: list[float], theirs: list[float], target: float
) -> None:
    ours_rate, their_rate = (
        summarise([size / s / MB for s in mine]),
        summarise([size / s / MB for s in theirs]),
    )
    ratio = ours_rate.median / their_rate.median
    report.add(
        label,
        f"modelreg {ours_rate.median:.0f} · MLflow {their_rate.median:.0f} · {ratio:.2f}×",
        f"modelreg {ours_rate.spread('.0f')}; MLflow {their_rate.spread('.0f')}",
        f"≥ {target:g}× MLflow",
        ratio >= target,
    )


def _add_speedup(
    report: Report, label: str, *, mine: list[float], theirs: list[float], sent: list[float], size: int
) -> None:
    ours_s, their_s = summarise(mine), summarise(theirs)
    speedup = their_s.median / ours_s.median
    report.add(
        f"{label}: modelreg s vs MLflow full upload s",
        f"{ours_s.median:.2f} vs {their_s.median:.2f} · {speedup:.1f}× faster",
        f"modelreg {ours_s.spread('.2f')}; MLflow {their_s.spread('.2f')}",
        f"≥ {DEDUP_RATIO:.0f}× faster",
        speedup >= DEDUP_RATIO,
    )
    shown = summarise(sent)
    report.add(
        f"{label}: bytes sent",
        f"modelreg {shown.median / MB:.2f} MB · MLflow {size / MB:.0f} MB",
        f"modelreg {shown.low / MB:.2f} – {shown.high / MB:.2f} MB",
    )


def _fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def _random_file(path: Path, size: int, block: int = 16 * 1024 * 1024) -> None:
    with open(path, "wb") as handle:
        for start in range(0, size, block):
            handle.write(os.urandom(min(block, size - start)))


def _write_safetensors(path: Path, tensor_bytes: int, *, changed: range) -> None:
    """A safetensors file of ``TENSORS`` F32 tensors; those in ``changed`` get new random bytes."""
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    for index in range(TENSORS):
        offsets = [index * tensor_bytes, (index + 1) * tensor_bytes]
        header[f"layer{index:03d}.weight"] = {
            "dtype": "F32",
            "shape": [tensor_bytes // 4],
            "data_offsets": offsets,
        }
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    start = 8 + len(text)
    mode = "r+b" if path.exists() else "wb"
    with open(path, mode) as handle:
        handle.write(struct.pack("<Q", len(text)) + text)
        for index in changed:
            handle.seek(start + index * tensor_bytes)
            handle.write(os.urandom(tensor_bytes))


def _sha256(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(16 * 1024 * 1024):
            hasher.update(block)
    return hasher.hexdigest()


if __name__ == "__main__":
    raise SystemExit(main())
