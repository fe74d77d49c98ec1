"""Real servers for the MLflow-compatibility tests, and MLflow's own client pointed at one of them.

``run_modelreg_server`` and ``run_mlflow_server`` start ``modelreg serve`` and MLflow's ``mlflow server`` as
subprocesses on free loopback ports, from this virtualenv, each in its own process group so that stopping one
also stops whatever it spawned (uvicorn workers, MLflow's job runners). The tests drive them only over HTTP,
exactly as an unmodified MLflow client would.

``mlflow_session`` points MLflow's process-global client state (tracking URI, MLFLOW_* variables) at one
server for the length of a ``with`` block and puts back what was there before, so sessions nest.

Setting ``MLFLOW_COMPAT_REFERENCE=1`` makes ``run_target_server`` start MLflow's own server instead of
modelreg's: the generic acceptance tests then run against MLflow itself, which checks the tests (not
modelreg) — every expectation in them is MLflow's behaviour.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

if TYPE_CHECKING:
    from mlflow import MlflowClient

BIN = Path(sys.executable).parent
READY_TIMEOUT = 120.0  # MLflow's server imports a lot and migrates its schema on first start
REFERENCE_ENV = "MLFLOW_COMPAT_REFERENCE"
# Given requirements skip MLflow's requirement inference in log_model: a local subprocess that loads the
# model again (~8 s a call on a busy 2-core machine) and never talks to the server: nothing tested is lost.
REQUIREMENTS = ["scikit-learn"]
# The client side: fail fast instead of MLflow's default of 7 retries with exponential backoff on 5xx (a
# server bug would otherwise cost minutes per call), and never phone home.
MLFLOW_CLIENT_ENV = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "60",
    "MLFLOW_DISABLE_TELEMETRY": "true",
}
# MLflow 3 starts a job runner next to its server unless told not to; nothing here needs it.
MLFLOW_SERVER_ENV = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "MLFLOW_DISABLE_TELEMETRY": "true"}


_BOOTING: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}  # MLflow servers by URL: see wait_until_ready


class ServerFailed(RuntimeError):
    """A server exited or never became ready; the message carries the tail of its log."""


def free_port() -> int:
    """A free loopback port (the tiny window before the server binds it is acceptable in tests)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def run_modelreg_server(
    tmp_path: Path,
    *,
    database: str | None = None,
    storage: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """A real ``modelreg serve`` (SQLite + file chunk store under tmp_path by default); yields its base URL.

    The child sees no MODELREG_* variable from this process (tests set some, e.g. a cache dir or a token),
    only the ones passed in ``env``.
    """
    root = Path(tempfile.mkdtemp(prefix="modelreg-", dir=tmp_path))
    port = free_port()
    command = [str(BIN / "modelreg"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--database-url", database or f"sqlite:///{root / 'registry.db'}"]
    command += ["--storage-url", storage or f"file://{root / 'chunks'}"]
    child_env = {key: value for key, value in os.environ.items() if not key.startswith("MODELREG_")}
    child_env.update(env or {})
    url = f"http://127.0.0.1:{port}"
    with _process(command, root / "server.log", child_env) as process:
        _wait_ready(process, f"{url}/readyz", root / "server.log")
        yield url


@contextlib.contextmanager
def run_mlflow_server(tmp_path: Path, *, wait: bool = True) -> Iterator[str]:
    """MLflow's own tracking server (SQLite backend, proxied artifacts on disk); yields its base URL.

    It takes several seconds to boot (much more on a busy machine): ``wait=False`` yields at once, so the
    caller can do other work meanwhile and then call ``wait_until_ready(url)``.
    """
    root = Path(tempfile.mkdtemp(prefix="mlflow-", dir=tmp_path))
    port = free_port()
    command = [str(BIN / "mlflow"), "server", "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}"]
    command += [
        "--artifacts-destination",
        str(root / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",  # MLflow's default of 4 processes, each importing MLflow, doubles its start-up here
        "1",
    ]
    child_env = {key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_")}
    child_env.update(MLFLOW_SERVER_ENV)
    url = f"http://127.0.0.1:{port}"
    with _process(command, root / "server.log", child_env) as process:
        _BOOTING[url] = (process, root / "server.log")
        try:
            if wait:
                wait_until_ready(url)
            yield url
        finally:
            _BOOTING.pop(url, None)


def wait_until_ready(url: str) -> None:
    """Block until the MLflow server at ``url`` (started with ``run_mlflow_server``) answers /health."""
    process, log = _BOOTING[url]
    _wait_ready(process, f"{url}/health", log)


@contextlib.contextmanager
def _process(command: list[str], log: Path, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """A server in its own process group; at the end the whole group is stopped, gently first."""
    with open(log, "wb") as sink:
        process = subprocess.Popen(
            command, stdout=sink, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        yield process
    finally:
        _stop_group(process)


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the group (uvicorn shuts down cleanly), then SIGKILL whatever is left after a grace period."""
    for stop, grace in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, stop)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
        if _group_gone(process.pid):
            return


def _group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # pragma: no cover - a reused group id owned by someone else
        return True
    return False


def _wait_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerFailed(f"{url}: server exited ({process.returncode}):\n{_tail(log)}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise ServerFailed(f"{url} never became ready:\n{_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-4000:]


def against_reference() -> bool:
    """True when the generic tests are asked to run against MLflow's own server (to check the tests)."""
    return os.environ.get(REFERENCE_ENV) == "1"


@contextlib.contextmanager
def run_target_server(tmp_path: Path) -> Iterator[str]:
    """The server the generic acceptance tests judge: modelreg's, or MLflow's own in reference mode."""
    with run_mlflow_server(tmp_path) if against_reference() else run_modelreg_server(tmp_path) as url:
        yield url


@dataclass(frozen=True)
class MlflowSession:
    url: str
    client: MlflowClient
    experiment_id: str  # runs start here explicitly: MLflow's "active experiment" is a process global


@contextlib.contextmanager
def mlflow_session(
    url: str, *, experiment: str | None, env: Mapping[str, str] | None = None
) -> Iterator[MlflowSession]:
    """MLflow's client pointed at ``url`` (and only there) inside the block; ``env`` adds MLFLOW_* variables.

    Every MLFLOW_* variable of the surrounding process is hidden (a developer's MLFLOW_TRACKING_TOKEN must
    not leak into the auth tests). The experiment is fetched or created through the client, as MLflow's own
    ``set_experiment`` does, without making it the process-wide active one; None: no call at all (for a
    client that is expected to be refused).
    """
    import mlflow
    from mlflow import MlflowClient

    previous_uri = os.environ.get("MLFLOW_TRACKING_URI")
    with pytest.MonkeyPatch.context() as patch:
        for key in [key for key in os.environ if key.startswith("MLFLOW_")]:
            patch.delenv(key)
        for key, value in {**MLFLOW_CLIENT_ENV, "MLFLOW_TRACKING_URI": url, **(env or {})}.items():
            patch.setenv(key, value)
        mlflow.set_tracking_uri(url)
        try:
            client = MlflowClient(tracking_uri=url)
            yield MlflowSession(url, client, _experiment_id(client, experiment) if experiment else "")
        finally:
            mlflow.set_tracking_uri(previous_uri)  # None: back to MLflow's default


def _experiment_id(client: MlflowClient, name: str) -> str:
    found = client.get_experiment_by_name(name)
    return str(found.experiment_id) if found else client.create_experiment(name)


@dataclass(frozen=True)
class Classifiers:
    """Two small sklearn models that disagree on every row: a loaded model proves which version it is."""

    features: Any  # numpy array, (rows, 4)
    first: Any  # sklearn LogisticRegression
    flipped: Any  # trained on the inverted labels


def train_classifiers() -> Classifiers:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(7)
    features = rng.normal(size=(64, 4))
    labels = (features[:, 0] + 0.5 * features[:, 1] > 0).astype(int)
    first = LogisticRegression().fit(features, labels)
    flipped = LogisticRegression().fit(features, 1 - labels)
    assert (first.predict(features) != flipped.predict(features)).all()
    return Classifiers(features, first, flipped)
