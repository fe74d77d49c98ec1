"""One registry, two faces: what MLflow's client writes is a normal modelreg version, and the reverse.

A real ``modelreg serve`` over SQLite and a file:// chunk store this module can measure; MLflow's client and
modelreg's own HTTP SDK (``modelreg.connect(url)``) talk to the same server.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import modelreg
from modelreg.client.client import Client
from tests.conftest import tree_bytes
from tests.functional.mlflow_servers import (
    REQUIREMENTS,
    Classifiers,
    MlflowSession,
    mlflow_session,
    run_modelreg_server,
    train_classifiers,
)

# One worker runs this module, so its module-scoped servers start once (addopts: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("test_mlflow_client_native")

with warnings.catch_warnings():
    # MLflow's own import-time notice about its type hints (mlflow/types/type_hints.py): not ours to fix.
    warnings.filterwarnings("ignore", ".*type hint is inferred as AnyType", UserWarning)
    import mlflow
    import mlflow.artifacts
    import mlflow.pyfunc
    import mlflow.sklearn

STAGES_DEPRECATED = pytest.mark.filterwarnings("ignore:.*is deprecated since 2.9.0:FutureWarning")


@dataclass(frozen=True)
class Served:
    session: MlflowSession
    reg: Client  # modelreg's HTTP SDK on the same server
    chunks: Path  # the server's file:// chunk store


class WeightsModel(mlflow.pyfunc.PythonModel):
    """Answers every row with the mean byte of its weights file: loading proves the bytes came whole.

    predict's type hints are what MLflow 3 wants (it infers the signature from them, and warns without).
    """

    def load_context(self, context: Any) -> None:
        weights = Path(context.artifacts["weights"]).read_bytes()
        self.mean = float(np.frombuffer(weights, dtype=np.uint8).mean())

    def predict(
        self, context: Any, model_input: list[float], params: dict[str, Any] | None = None
    ) -> list[float]:
        return [self.mean] * len(model_input)


@pytest.fixture(scope="module")
def models() -> Classifiers:
    return train_classifiers()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("native")
    with (
        run_modelreg_server(root, storage=f"file://{root / 'chunks'}") as url,
        mlflow_session(url, experiment="native") as session,
        modelreg.connect(url, cache_dir=root / "cache") as reg,
    ):
        yield Served(session, reg, root / "chunks")


def stored_bytes(store: Path) -> int:
    """Bytes of published chunks (``sha256/ab/cd/<hex>``; in-flight uploads live elsewhere)."""
    return sum(path.stat().st_size for path in store.glob("sha256/*/*/*") if path.is_file())


def downloaded(uri: str, dest: Path) -> Path:
    """MLflow's download of a models:/ URI, without the ``registered_model_meta`` file its client adds."""
    root = Path(mlflow.artifacts.download_artifacts(uri, dst_path=str(dest)))
    (root / "registered_model_meta").unlink(missing_ok=True)
    return root


def file_digests(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
        for path in root.rglob("*")
        if path.is_file()
    }


# -----------------------------------------------------------------------------------------------------------
@STAGES_DEPRECATED
def test_a_natively_pushed_version_is_visible_and_loadable_through_mlflow(
    served: Served, models: Classifiers, tmp_path: Path
) -> None:
    saved = tmp_path / "saved"
    mlflow.sklearn.save_model(models.first, saved, pip_requirements=REQUIREMENTS)
    pushed = served.reg.push(
        "native", saved, tags={"team": "risk"}, description="pushed natively", aliases=["candidate"]
    )
    client = served.session.client

    version = client.get_model_version("native", "1")
    assert (version.version, version.status, version.current_stage) == ("1", "READY", "None")
    assert (version.tags, version.description, version.aliases) == (
        {"team": "risk"},
        "pushed natively",
        ["candidate"],
    )
    assert client.get_model_version_by_alias("native", "candidate").version == "1"
    assert [v.version for v in client.search_model_versions("name = 'native'")] == ["1"]
    assert [m.name for m in client.search_registered_models("name = 'native'")] == ["native"]
    assert client.get_model_version_download_uri("native", "1") == "mlflow-artifacts:/registry/native/1"

    for uri in ("models:/native/1", "models:/native@candidate"):
        dest = tmp_path / uri.replace("/", "_").replace(":", "").replace("@", "_")
        dest.mkdir()
        loaded = mlflow.pyfunc.load_model(uri, dst_path=str(dest))
        np.testing.assert_array_equal(loaded.predict(models.features), models.first.predict(models.features))
    files = downloaded("models:/native/1", tmp_path / "dl")
    assert tree_bytes(files) == tree_bytes(saved)
    assert file_digests(files) == {f.path: f.digest for f in pushed.files}

    served.reg.set_stage("native/1", "staging")  # shared stages and aliases, both ways
    assert client.get_model_version("native", "1").current_stage == "Staging"
    client.set_registered_model_alias("native", "reviewed", "1")
    assert served.reg.get_model("native").aliases == {"candidate": 1, "reviewed": 1}


@STAGES_DEPRECATED
def test_a_version_created_through_mlflow_is_a_normal_modelreg_version(
    served: Served, models: Classifiers, tmp_path: Path
) -> None:
    client = served.session.client
    with mlflow.start_run(experiment_id=served.session.experiment_id) as run:
        mlflow.log_metrics({"auc": 0.91, "f1": 0.8})
        mlflow.log_params({"C": "1.0", "solver": "lbfgs"})
        logged = mlflow.sklearn.log_model(
            models.first, name="model", registered_model_name="via-mlflow", pip_requirements=REQUIREMENTS
        )
    client.set_model_version_tag("via-mlflow", "1", "team", "risk")
    client.update_model_version("via-mlflow", "1", description="logged by the training job")
    client.transition_model_version_stage("via-mlflow", "1", "Staging")
    client.set_registered_model_alias("via-mlflow", "candidate", "1")

    version = served.reg.get_version("via-mlflow/1")
    assert version.digest.startswith("sha256:") and len(version.digest) == 71
    assert (version.lineage.run_id, version.metrics) == (run.info.run_id, {"auc": 0.91, "f1": 0.8})
    assert version.params == {"C": "1.0", "solver": "lbfgs"}
    assert (version.tags["team"], version.tags["modelreg.mlflow.source"]) == ("risk", logged.model_uri)
    assert version.tags["modelreg.mlflow.model_id"] == logged.model_id
    assert (version.description, version.stage, version.aliases) == (
        "logged by the training job",
        "staging",
        ("candidate",),
    )
    assert client.get_model_version("via-mlflow", "1").tags == {"team": "risk"}  # reserved keys stay hidden

    files = downloaded("models:/via-mlflow/1", tmp_path / "dl")
    assert {f.path: f.digest for f in version.files} == file_digests(files)
    assert {f.path for f in version.files} >= {"MLmodel", "model.skops", "requirements.txt"}
    assert (
        version.size_bytes
        == sum(f.size for f in version.files)
        == sum(path.stat().st_size for path in files.rglob("*") if path.is_file())
    )
    pulled = Path(served.reg.pull("via-mlflow@candidate", dest=tmp_path / "pulled"))
    assert tree_bytes(pulled) == tree_bytes(files)


def test_registering_unchanged_weights_stores_no_new_bytes(served: Served, tmp_path: Path) -> None:
    weights = tmp_path / "weights.bin"
    weights.write_bytes(os.urandom(3 << 20))  # incompressible, several chunks

    def log() -> Any:
        with mlflow.start_run(experiment_id=served.session.experiment_id):
            return mlflow.pyfunc.log_model(
                name="model",
                python_model=WeightsModel(),
                artifacts={"weights": str(weights)},
                pip_requirements=["numpy"],
                registered_model_name="dedup",
            )

    before = stored_bytes(served.chunks)
    first = log()
    grown = stored_bytes(served.chunks) - before
    assert grown >= 3 << 20

    before = stored_bytes(served.chunks)
    second = log()  # a new LoggedModel and run: only MLmodel and the pickled wrapper can differ
    assert stored_bytes(served.chunks) - before < 64 << 10
    mlflow.register_model(second.model_uri, "dedup")  # the same LoggedModel registered again: nothing new
    assert stored_bytes(served.chunks) - before < 64 << 10

    v1, v2, v3 = (served.reg.get_version(f"dedup/{n}") for n in (1, 2, 3))
    weight_digest = {f.path: f.digest for f in v1.files}["artifacts/weights.bin"]
    assert {f.path: f.digest for f in v2.files}["artifacts/weights.bin"] == weight_digest
    assert v3.digest == v2.digest != v1.digest
    expected = float(np.frombuffer(weights.read_bytes(), dtype=np.uint8).mean())
    dest = tmp_path / "loaded"
    dest.mkdir()
    loaded = mlflow.pyfunc.load_model("models:/dedup/1", dst_path=str(dest))
    assert loaded.predict([0.0, 1.0]) == [expected] * 2
    assert first.registered_model_version == "1"
