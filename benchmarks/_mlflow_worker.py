"""The MLflow side of ``vs_mlflow.py``: one workload through MLflow's own client, run in MLflow's virtualenv.

Not a benchmark by itself, and never imported by modelreg's code: ``vs_mlflow.py`` runs it as

    <mlflow-venv>/bin/python benchmarks/_mlflow_worker.py '<json job>'

with ``MLFLOW_TRACKING_URI`` pointing at the ``mlflow server`` it started, and reads one JSON document from
its stdout. The job names an operation (see ``OPERATIONS``) and its load: ``threads`` client threads, each
making calls until ``count`` calls were made in all or ``seconds`` have passed.

The load generator (``run_load``) uses only the standard library, so ``vs_mlflow.py`` imports it too and both
registries are driven by exactly the same code: per-call latencies from ``time.perf_counter``, throughput as
calls completed / wall-clock seconds of the whole run, warm-up calls (not recorded) first on every thread so
each one holds a kept-alive connection before timing starts.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["OPERATIONS", "Load", "check_search", "run_load"]

MODEL = "bench"
ALIAS = "champion"
SEARCH_FILTER = f"name = '{MODEL}' AND tags.team = 'risk'"
SEARCH_ORDER = ["version_number DESC"]
SEARCH_LIMIT = 100
TEAMS = ("risk", "fraud", "growth", "search", "ads", "infra", "vision", "speech", "nlp", "pricing")

Call = Callable[[int, int], object]  # (thread index, call index) -> anything


class Load(dict[str, Any]):
    """A run's result: ``latencies`` (seconds, every timed call), ``seconds`` (wall clock), ``calls``."""


def run_load(
    call: Call, *, threads: int, count: int | None = None, seconds: float | None = None, warmup: int = 0
) -> Load:
    """Call ``call`` from ``threads`` threads until ``count`` calls in all, or for ``seconds``.

    Call indexes are handed out from one counter, so ``count`` calls get the indexes 0…count-1 exactly
    once. Warm-up calls get negative indexes. The first exception stops every thread and is re-raised.
    """
    if (count is None) == (seconds is None):
        raise ValueError("give count or seconds")
    lock = threading.Lock()
    issued = 0
    latencies: list[list[float]] = [[] for _ in range(threads)]
    failures: list[BaseException] = []
    clock = [0.0, 0.0]  # start, deadline: set when the last thread (warm-up done) reaches the barrier

    def go() -> None:
        clock[0] = time.perf_counter()
        clock[1] = clock[0] + (seconds or 0.0)

    start = threading.Barrier(threads + 1, action=go)

    def next_index() -> int | None:
        nonlocal issued
        with lock:
            if failures or (count is not None and issued >= count):
                return None
            if seconds is not None and time.perf_counter() >= clock[1]:
                return None
            issued += 1
            return issued - 1

    def worker(thread: int) -> None:
        try:
            for index in range(warmup):
                call(thread, -1 - index)
        except BaseException as error:  # handed to the main thread below
            failures.append(error)
        start.wait()
        mine = latencies[thread]
        while (index := next_index()) is not None:
            began = time.perf_counter()
            try:
                call(thread, index)
            except BaseException as error:  # handed to the main thread below
                failures.append(error)
                return
            mine.append(time.perf_counter() - began)

    pool = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(threads)]
    for thread in pool:
        thread.start()
    start.wait()
    began = clock[0]
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - began
    if failures:
        raise failures[0]
    flat = [latency for per_thread in latencies for latency in per_thread]
    return Load(latencies=flat, seconds=elapsed, calls=len(flat))


# The MLflow operations --------------------------------------------------------------------------------------
def _client() -> Any:
    from mlflow import MlflowClient  # noqa: PLC0415 - only in MLflow's virtualenv

    return MlflowClient()


def setup(job: dict[str, Any]) -> dict[str, Any]:
    """The registered model, and one run with a tiny artifact that every version's ``source`` points at."""
    client = _client()
    experiment = client.create_experiment(f"bench-{os.getpid()}")
    run = client.create_run(experiment)
    artifact = os.path.join(job["scratch"], "model.bin")
    with open(artifact, "wb") as handle:
        handle.write(b"\0" * 1024)
    client.log_artifact(run.info.run_id, artifact, "model")
    client.create_registered_model(MODEL)
    return {"run_id": run.info.run_id, "source": f"{run.info.artifact_uri}/model", "experiment": experiment}


def create(job: dict[str, Any]) -> Load:
    """``create_model_version`` with the tags vs_mlflow's search filters on (``team`` cycles over TEAMS)."""
    client = _client()
    offset = job["offset"]

    def one(_thread: int, index: int) -> None:
        number = offset + index
        tags = {"team": TEAMS[number % len(TEAMS)], "framework": "torch"}
        client.create_model_version(MODEL, job["source"], run_id=job["run_id"], tags=tags)

    return run_load(one, threads=job["threads"], count=job["count"])


def get_alias(job: dict[str, Any]) -> Load:
    client = _client()
    return run_load(
        lambda _t, _i: client.get_model_version_by_alias(MODEL, ALIAS),
        threads=job["threads"],
        seconds=job["seconds"],
        warmup=job["warmup"],
    )


def set_alias(job: dict[str, Any]) -> Load:
    """Each thread moves its own alias (``t0``…``t7``) over versions 1…``versions``."""
    client = _client()
    versions = job["versions"]
    return run_load(
        lambda t, i: client.set_registered_model_alias(MODEL, f"t{t}", str(1 + abs(i) % versions)),
        threads=job["threads"],
        seconds=job["seconds"],
        warmup=job["warmup"],
    )


def search(job: dict[str, Any]) -> Load:
    client = _client()

    def one(_thread: int, _index: int) -> None:
        found = client.search_model_versions(SEARCH_FILTER, max_results=SEARCH_LIMIT, order_by=SEARCH_ORDER)
        check_search([version.tags for version in found], job["versions"])

    return run_load(one, threads=job["threads"], seconds=job["seconds"], warmup=job["warmup"])


def check_search(tags: list[dict[str, str]], versions: int) -> None:
    """A search page holds the first ``SEARCH_LIMIT`` of the versions tagged ``team=risk`` (every tenth)."""
    expected = min(SEARCH_LIMIT, (versions + len(TEAMS) - 1) // len(TEAMS))
    if len(tags) != expected or any(tag.get("team") != "risk" for tag in tags):
        raise RuntimeError(f"search returned {len(tags)} versions, not {expected} 'risk' ones")


def prepare_alias(job: dict[str, Any]) -> dict[str, Any]:
    _client().set_registered_model_alias(MODEL, ALIAS, str(job["version"]))
    return {}


def upload(job: dict[str, Any]) -> dict[str, Any]:
    """``log_artifact`` of one file into a new run (a full upload: MLflow has no dedup); seconds taken."""
    client = _client()
    run = client.create_run(job["experiment"])
    began = time.perf_counter()
    client.log_artifact(run.info.run_id, job["path"])
    seconds = time.perf_counter() - began
    listed = {info.path: info.file_size for info in client.list_artifacts(run.info.run_id)}
    return {
        "seconds": seconds,
        "run_id": run.info.run_id,
        "stored_bytes": listed[os.path.basename(job["path"])],
    }


def download(job: dict[str, Any]) -> dict[str, Any]:
    """``download_artifacts`` of one file into an empty directory; seconds taken (checked by the caller)."""
    client = _client()
    began = time.perf_counter()
    path = client.download_artifacts(job["run_id"], job["name"], job["dest"])
    return {"seconds": time.perf_counter() - began, "path": path}


OPERATIONS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "setup": setup,
    "create": create,
    "get_alias": get_alias,
    "set_alias": set_alias,
    "search": search,
    "prepare_alias": prepare_alias,
    "upload": upload,
    "download": download,
}


def main() -> int:
    job = json.loads(sys.argv[1])
    result = OPERATIONS[job["op"]](job)
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
