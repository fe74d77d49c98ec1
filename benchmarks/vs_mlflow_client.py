"""MLflow's own client, unmodified, against ``mlflow server`` and against ``modelreg serve``, in one run.

The same MLflow client code (this virtualenv's ``mlflow``, the ``[mlflow-compat]`` extra) is pointed at each
server in turn, so every figure is what an MLflow user's script sees after changing only the tracking URI:

    .venv/bin/python benchmarks/vs_mlflow_client.py            # about 10–15 minutes on 2 cores
    .venv/bin/python benchmarks/vs_mlflow_client.py --quick    # a minute or two: checks that it works

What runs. Two servers on loopback, over fresh SQLite databases in ``benchmarks/.data/``: ``mlflow server
--backend-store-uri sqlite:///… --artifacts-destination …`` (its defaults otherwise) and ``modelreg serve``
(SQLite + a file:// chunk store, its defaults). One client thread; MLflow's client keeps connections alive.
Runs alternate between the servers (MLflow, modelreg, MLflow, …) so drifting machine load hits both alike.

- metadata calls, ``--calls`` per run: ``create_model_version`` (source: one LoggedModel, a ``team`` tag of
  10 values), ``get_model_version_by_alias`` (@champion), ``search_model_versions`` (``name = … AND
  tags.team = 'risk'``, newest 100 by version number, over ``--versions`` versions, result checked);
- a small sklearn model: ``mlflow.sklearn.log_model(…, registered_model_name=…)`` in a new run, then
  ``mlflow.pyfunc.load_model("models:/<name>/<version>")`` into a fresh directory (predictions checked);
- a large model: a pyfunc model with a ``--big-mb`` (500 MB) random weights file, new each run:
  ``log_model`` + register, ``load_model`` (the weights' size checked), then the same weights logged and
  registered again. The chunk store's growth over that second registration is reported (modelreg stores
  each chunk once; MLflow's artifact directory, shown beside it, stores every upload in full).

Figures: per call, the median latency of a run; each figure is the median over ``--runs`` runs, with the
range. Ratios are MLflow's time ÷ modelreg's (higher is better for modelreg).

Targets (the issue's): metadata calls ≥ 10× faster; large ``log_model`` + ``load_model`` ≥ 2× faster; the
second registration of unchanged weights stores no new bytes (≤ 1 MB: MLmodel and the pickled wrapper
differ, the weights do not).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import (
    MB,
    Report,
    Summary,
    banner,
    free_port,
    parse_args,
    random_file,
    require,
    scratch_dir,
    server_process,
    summarise,
    wait_ready,
)

# MLflow reads these when it is imported and on every call: no telemetry, and a 5xx fails the benchmark at
# once (MLflow's default retries with backoff would hide a server error behind minutes of waiting).
os.environ.update({"MLFLOW_DISABLE_TELEMETRY": "true", "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"})
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # MLflow's import-time notices about its own type hints
    try:
        import mlflow
        import mlflow.pyfunc
        import mlflow.sklearn
        import numpy as np
        from mlflow import MlflowClient
        from sklearn.linear_model import LogisticRegression
    except ImportError as missing:
        raise SystemExit(
            f"{missing}: install the MLflow client with pip install -e '.[mlflow-compat]'"
        ) from None

BIN = Path(sys.executable).parent
MODEL, SMALL, BIG, ALIAS = "bench", "bench-small", "bench-big", "champion"
TEAMS = ("risk", "fraud", "growth", "search", "ads", "infra", "vision", "speech", "nlp", "pricing")
SEARCH_FILTER, SEARCH_ORDER, SEARCH_LIMIT = (
    f"name = '{MODEL}' AND tags.team = 'risk'",
    ["version_number DESC"],
    100,
)
METADATA_RATIO, BIG_RATIO, SECOND_GROWTH_LIMIT = 10.0, 2.0, 1_000_000
WARMUP = 5
# MLflow 3's server starts background job consumers that poll its database (~0.5 core): no registry call
# uses them, and they would take CPU from whichever server is being measured.
MLFLOW_SERVER_ENV = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "MLFLOW_DISABLE_TELEMETRY": "true"}


def main() -> int:
    args = parse_args(__doc__ or "", runs=5, extra=_options)
    if args.quick:
        args.runs, args.calls, args.versions, args.models, args.big_mb = 3, 10, 60, 1, 16
    banner(f"vs_mlflow_client: {args.runs} runs, {args.calls} calls, {args.big_mb} MB model")
    report = Report("vs_mlflow_client", args.json)
    with scratch_dir("vs_mlflow_client") as root, _servers(root) as sides:
        for side in sides:
            with side.active():
                side.prepare()
        _metadata(report, sides, args)
        _small_model(report, sides, root, args)
        _big_model(report, sides, root, args)
    return report.finish()


def _options(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--quick", action="store_true", help="tiny sizes and 3 runs: checks that everything works")
    add("--calls", type=int, default=100, help="calls per run of each metadata operation (default 100)")
    add("--versions", type=int, default=1000, help="versions of the searched model (default 1,000)")
    add("--models", type=int, default=3, help="small-model log/load pairs per run (default 3)")
    add("--big-mb", type=int, default=500, help="size of the large model's weights, MB (default 500)")


# Servers ----------------------------------------------------------------------------------------------------
@dataclass
class Side:
    """One server, and what the MLflow client made on it."""

    name: str
    url: str
    store: Path  # where its bytes land: modelreg's chunk store, MLflow's artifact directory
    client: MlflowClient = field(init=False)
    experiment_id: str = ""
    source: Any = None  # the LoggedModel every timed version is created from
    run_id: str = ""
    created: int = 0  # versions of MODEL so far

    def __post_init__(self) -> None:
        self.client = MlflowClient(tracking_uri=self.url)

    @contextlib.contextmanager
    def active(self) -> Iterator[Side]:
        """MLflow's fluent API (start_run, log_model, load_model) follows the process-wide tracking URI."""
        mlflow.set_tracking_uri(self.url)
        try:
            yield self
        finally:
            mlflow.set_tracking_uri(None)  # back to MLflow's default

    def prepare(self) -> None:
        self.experiment_id = self.client.create_experiment("bench")
        with mlflow.start_run(experiment_id=self.experiment_id) as run:
            self.source = mlflow.sklearn.log_model(
                _classifier(), name="model", pip_requirements=["scikit-learn"]
            )
        self.run_id = run.info.run_id
        self.client.create_registered_model(MODEL)
        self.create_version()
        self.client.set_registered_model_alias(MODEL, ALIAS, "1")

    def create_version(self) -> None:
        team = TEAMS[self.created % len(TEAMS)]
        self.client.create_model_version(
            MODEL,
            self.source.model_uri,
            run_id=self.run_id,
            model_id=self.source.model_id,
            tags={"team": team},
        )
        self.created += 1


@contextlib.contextmanager
def _servers(root: Path) -> Iterator[tuple[Side, Side]]:
    (root / "mlflow").mkdir()
    (root / "modelreg").mkdir()
    theirs_port, ours_port = free_port(), free_port()
    theirs = [
        str(BIN / "mlflow"),
        "server",
        "--backend-store-uri",
        f"sqlite:///{root / 'mlflow' / 'mlflow.db'}",
    ]
    theirs += ["--artifacts-destination", str(root / "mlflow" / "artifacts")]
    theirs += ["--host", "127.0.0.1", "--port", str(theirs_port)]
    ours = [str(BIN / "modelreg"), "serve", "--host", "127.0.0.1", "--port", str(ours_port)]
    ours += ["--database-url", f"sqlite:///{root / 'modelreg' / 'registry.db'}"]
    ours += ["--storage-url", f"file://{root / 'modelreg' / 'chunks'}"]
    env = {key: value for key, value in os.environ.items() if not key.startswith("MODELREG_")}
    with (
        server_process(theirs, root / "mlflow" / "server.log", env={**env, **MLFLOW_SERVER_ENV}),
        server_process(ours, root / "modelreg" / "server.log", env=env),
    ):
        began = time.perf_counter()
        wait_ready(f"http://127.0.0.1:{theirs_port}/health", f"http://127.0.0.1:{ours_port}/readyz")
        print(f"  both servers answer after {time.perf_counter() - began:.0f} s", flush=True)
        yield (
            Side("MLflow", f"http://127.0.0.1:{theirs_port}", root / "mlflow" / "artifacts"),
            Side("modelreg", f"http://127.0.0.1:{ours_port}", root / "modelreg" / "chunks"),
        )


# Metadata calls ---------------------------------------------------------------------------------------------
def _metadata(report: Report, sides: tuple[Side, Side], args: argparse.Namespace) -> None:
    def create(side: Side) -> Callable[[], object]:
        return side.create_version

    def by_alias(side: Side) -> Callable[[], object]:
        return lambda: require(side.client.get_model_version_by_alias(MODEL, ALIAS).version == "1", "alias")

    def search(side: Side) -> Callable[[], object]:
        def call() -> None:
            found = side.client.search_model_versions(
                SEARCH_FILTER, max_results=SEARCH_LIMIT, order_by=SEARCH_ORDER
            )
            expected = min(SEARCH_LIMIT, -(-side.created // len(TEAMS)))  # every 10th version is "risk"
            require(len(found) == expected, f"{side.name} search: {len(found)} results, wanted {expected}")

        return call

    _latencies(report, "create_model_version", sides, create, args)
    for side in sides:  # top up to --versions (untimed) for the search figure
        while side.created < args.versions:
            side.create_version()
    _latencies(report, "get_model_version_by_alias", sides, by_alias, args)
    _latencies(report, f"search_model_versions over {args.versions:,} versions", sides, search, args)


def _latencies(
    report: Report,
    label: str,
    sides: tuple[Side, Side],
    make: Callable[[Side], Callable[[], object]],
    args: argparse.Namespace,
) -> None:
    """Per run and side: the median latency of ``--calls`` calls, after a few warm-up calls; and the CPU the
    MLflow client itself spends per call (this process runs only the client; the servers are subprocesses).

    That CPU is a floor under every latency measured through the client, whichever server answers, so
    ``MLflow's p50 ÷ client CPU`` is the largest ratio any server could show here; it is reported beside
    the ratio (the server-side ratios, without MLflow's client, are ``benchmarks/vs_mlflow.py``'s)."""
    medians: dict[str, list[float]] = {side.name: [] for side in sides}
    client_cpu: list[float] = []
    for _ in range(args.runs):
        for side in sides:
            call = make(side)
            for _ in range(WARMUP):
                call()
            samples = []
            cpu_started = time.process_time()
            for _ in range(args.calls):
                started = time.perf_counter()
                call()
                samples.append(time.perf_counter() - started)
            if side.name == "modelreg":
                client_cpu.append((time.process_time() - cpu_started) / args.calls)
            medians[side.name].append(statistics.median(samples))
    _add_ratio(report, f"{label}: p50 ms", medians, scale=1000, fmt=".2f", target=METADATA_RATIO)
    floor = summarise(client_cpu)
    ceiling = summarise(medians["MLflow"]).median / floor.median
    report.add(
        f"{label}: MLflow client's own CPU per call, ms",
        f"{floor.median * 1000:.2f} (at most {ceiling:.1f}× faster through this client)",
        _scaled(floor, 1000, ".2f"),
        "",
        None,
    )


def _add_ratio(
    report: Report,
    label: str,
    figures: dict[str, list[float]],
    *,
    scale: float,
    fmt: str,
    target: float | None,
) -> None:
    theirs, ours = summarise(figures["MLflow"]), summarise(figures["modelreg"])
    ratio = theirs.median / ours.median
    report.add(
        label,
        f"modelreg {ours.median * scale:{fmt}} · MLflow {theirs.median * scale:{fmt}} · {ratio:.1f}× faster",
        f"modelreg {_scaled(ours, scale, fmt)}; MLflow {_scaled(theirs, scale, fmt)}",
        f"≥ {target:g}× faster" if target else "",
        ratio >= target if target else None,
    )


def _scaled(stats: Summary, scale: float, fmt: str) -> str:
    return f"{stats.low * scale:{fmt}} – {stats.high * scale:{fmt}}"


# Models -----------------------------------------------------------------------------------------------------
def _classifier() -> LogisticRegression:
    rng = np.random.default_rng(7)
    features = rng.normal(size=(64, 4))
    return LogisticRegression().fit(features, (features[:, 0] > 0).astype(int))


def _small_model(report: Report, sides: tuple[Side, Side], root: Path, args: argparse.Namespace) -> None:
    model, features = _classifier(), np.random.default_rng(8).normal(size=(16, 4))
    logs: dict[str, list[float]] = {side.name: [] for side in sides}
    loads: dict[str, list[float]] = {side.name: [] for side in sides}
    for run in range(args.runs):
        for side in sides:
            with side.active():
                for index in range(args.models):
                    started = time.perf_counter()
                    with mlflow.start_run(experiment_id=side.experiment_id):
                        info = mlflow.sklearn.log_model(
                            model,
                            name="model",
                            registered_model_name=SMALL,
                            pip_requirements=["scikit-learn"],
                        )
                    logs[side.name].append(time.perf_counter() - started)
                    dest = _fresh(root / "loads" / side.name / f"small-{run}-{index}")
                    started = time.perf_counter()
                    loaded = mlflow.pyfunc.load_model(
                        f"models:/{SMALL}/{info.registered_model_version}", dst_path=dest
                    )
                    loads[side.name].append(time.perf_counter() - started)
                    require(
                        (loaded.predict(features) == model.predict(features)).all(), "small model predictions"
                    )
    _add_ratio(report, "sklearn log_model + register: s", logs, scale=1, fmt=".3f", target=None)
    _add_ratio(report, "sklearn load_model: s", loads, scale=1, fmt=".3f", target=None)


class WeightsModel(mlflow.pyfunc.PythonModel):
    """Answers every row with its weights file's size: loading proves the whole file arrived."""

    def load_context(self, context: Any) -> None:
        self.size = float(os.path.getsize(context.artifacts["weights"]))

    def predict(
        self, context: Any, model_input: list[float], params: dict[str, Any] | None = None
    ) -> list[float]:
        return [self.size] * len(model_input)  # type hints: MLflow 3 infers the signature from them


@dataclass
class BigRun:
    log: float
    load: float
    relog: float
    second_growth: int  # bytes the side's store grew by over the second registration


def _big_model(report: Report, sides: tuple[Side, Side], root: Path, args: argparse.Namespace) -> None:
    size = args.big_mb * MB
    weights = root / "weights.bin"
    runs: dict[str, list[BigRun]] = {side.name: [] for side in sides}
    for run in range(args.runs):
        random_file(weights, size)  # new weights each run: the first registration stores them in full
        for side in sides:
            with side.active():
                runs[side.name].append(
                    _big_run(side, weights, _fresh(root / "loads" / side.name / f"big-{run}"))
                )
            done = runs[side.name][-1]
            print(
                f"  {side.name} run {run + 1}: log_model + register {done.log:.2f} s, load_model "
                f"{done.load:.2f} s, again {done.relog:.2f} s (store +{done.second_growth:,} B)",
                flush=True,
            )
    label = f"{args.big_mb} MB model"

    def column(key: str) -> dict[str, list[float]]:
        return {name: [getattr(r, key) for r in values] for name, values in runs.items()}

    _add_ratio(report, f"{label}: log_model + register, s", column("log"), scale=1, fmt=".2f", target=None)
    _add_ratio(report, f"{label}: load_model, s", column("load"), scale=1, fmt=".2f", target=None)
    both = {name: [r.log + r.load for r in values] for name, values in runs.items()}
    _add_ratio(report, f"{label}: log_model + load_model, s", both, scale=1, fmt=".2f", target=BIG_RATIO)
    _add_ratio(
        report, f"{label}: second log_model + register, s", column("relog"), scale=1, fmt=".2f", target=None
    )
    ours, theirs = (
        summarise(column("second_growth")["modelreg"]),
        summarise(column("second_growth")["MLflow"]),
    )
    report.add(
        f"{label}: store growth on the second registration",
        f"modelreg {ours.median:,.0f} B · MLflow {theirs.median / MB:,.0f} MB",
        f"modelreg {ours.spread(',.0f')} B",
        f"modelreg ≤ {SECOND_GROWTH_LIMIT / MB:g} MB",
        ours.high <= SECOND_GROWTH_LIMIT,
    )


def _big_run(side: Side, weights: Path, dest: str) -> BigRun:
    started = time.perf_counter()
    first = _log_big(side, weights)
    log = time.perf_counter() - started
    started = time.perf_counter()
    loaded = mlflow.pyfunc.load_model(f"models:/{BIG}/{first.registered_model_version}", dst_path=dest)
    load = time.perf_counter() - started
    require(loaded.predict([0.0]) == [float(weights.stat().st_size)], f"{side.name}: weights size")
    shutil.rmtree(dest)  # 500 MB a run and side otherwise
    before = _stored_bytes(side.store)
    started = time.perf_counter()
    _log_big(side, weights)
    relog = time.perf_counter() - started
    return BigRun(log, load, relog, _stored_bytes(side.store) - before)


def _log_big(side: Side, weights: Path) -> Any:
    with mlflow.start_run(experiment_id=side.experiment_id):
        return mlflow.pyfunc.log_model(
            name="model",
            python_model=WeightsModel(),
            artifacts={"weights": str(weights)},
            pip_requirements=["numpy"],
            registered_model_name=BIG,
        )


def _stored_bytes(store: Path) -> int:
    return sum(path.stat().st_size for path in store.rglob("*") if path.is_file())


def _fresh(path: Path) -> str:
    path.mkdir(parents=True)
    return str(path)


if __name__ == "__main__":
    raise SystemExit(main())
