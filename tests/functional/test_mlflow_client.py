"""MLflow's own client, unmodified, against a real ``modelreg serve``: logging, registering, loading, aliases.

Only MLflow's public API is used (``mlflow.*``, ``MlflowClient``), with the tracking URI pointed at the
server, so what passes here is what a team's existing training and serving code does. Every expectation
is MLflow's behaviour: ``MLFLOW_COMPAT_REFERENCE=1`` runs this module against MLflow's own server to prove
it (see ``mlflow_servers``). Searching, lifecycle, errors, the native face, governance and auth have their
own ``test_mlflow_client_*`` modules.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.functional.mlflow_servers import (
    REQUIREMENTS,
    Classifiers,
    MlflowSession,
    mlflow_session,
    run_target_server,
    train_classifiers,
)

# One worker runs this module, so its module-scoped servers start once (addopts: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("test_mlflow_client")

with warnings.catch_warnings():
    # MLflow's own import-time notice about its type hints (mlflow/types/type_hints.py): not ours to fix.
    warnings.filterwarnings("ignore", ".*type hint is inferred as AnyType", UserWarning)
    import mlflow
    import mlflow.pyfunc
    import mlflow.sklearn
    from mlflow.entities import LoggedModelStatus
    from mlflow.exceptions import MlflowException
    from mlflow.models.model import ModelInfo


@dataclass(frozen=True)
class Logged:
    """``churn`` v1 (``first``, with run metrics and params) and v2 (``flipped``), logged with log_model."""

    run_id: str
    first: ModelInfo
    second: ModelInfo


@pytest.fixture(scope="module")
def models() -> Classifiers:
    return train_classifiers()


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowSession]:
    with (
        run_target_server(tmp_path_factory.mktemp("server")) as url,
        mlflow_session(url, experiment="acceptance") as session,
    ):
        yield session


@pytest.fixture(scope="module")
def logged(session: MlflowSession, models: Classifiers) -> Logged:
    with mlflow.start_run(experiment_id=session.experiment_id, run_name="train") as run:
        mlflow.log_params(
            {"C": "1.0", "solver": "lbfgs"}
        )  # log_params / log_metrics travel as runs/log-batch
        first = mlflow.sklearn.log_model(
            models.first, name="model", registered_model_name="churn", pip_requirements=REQUIREMENTS
        )
        # After the model: log_model in a run that already has metrics makes more calls, tested on its own.
        mlflow.log_metrics({"auc": 0.91})
    with mlflow.start_run(experiment_id=session.experiment_id, run_name="retrain"):
        second = mlflow.sklearn.log_model(
            models.flipped, name="model", registered_model_name="churn", pip_requirements=REQUIREMENTS
        )
    return Logged(run.info.run_id, first, second)


def assert_predicts_like(uri: str, model: Any, features: Any, dest: Path) -> None:
    """The model MLflow loads from ``uri`` answers exactly as the original did."""
    dest.mkdir(parents=True)
    loaded = mlflow.pyfunc.load_model(uri, dst_path=str(dest))
    np.testing.assert_array_equal(loaded.predict(features), model.predict(features))


# -----------------------------------------------------------------------------------------------------------
def test_log_model_with_registered_model_name_registers_a_loadable_version(
    session: MlflowSession, logged: Logged, models: Classifiers, tmp_path: Path
) -> None:
    assert (logged.first.registered_model_version, logged.second.registered_model_version) == ("1", "2")
    version = session.client.get_model_version("churn", "1")
    assert (version.name, version.version, version.status, version.current_stage) == (
        "churn",
        "1",
        "READY",
        "None",
    )
    assert (version.source, version.run_id) == (logged.first.model_uri, logged.run_id)
    latest = session.client.get_registered_model("churn").latest_versions
    assert [(v.version, v.current_stage) for v in latest] == [("2", "None")]

    assert_predicts_like("models:/churn/1", models.first, models.features, tmp_path / "v1")
    assert_predicts_like("models:/churn/2", models.flipped, models.features, tmp_path / "v2")

    logged_model = session.client.get_logged_model(logged.first.model_id)
    assert (logged_model.status, logged_model.source_run_id) == (LoggedModelStatus.READY, logged.run_id)
    run = session.client.get_run(logged.run_id)
    assert (run.info.status, run.data.metrics) == ("FINISHED", {"auc": 0.91})
    assert run.data.params == {"C": "1.0", "solver": "lbfgs"}


def test_log_model_in_a_run_that_already_has_metrics(
    session: MlflowSession, models: Classifiers, tmp_path: Path
) -> None:
    """The usual order (train, evaluate, log metrics, log the model): log_model then reads each metric's
    history (metrics/get-history) and logs the values again for the new LoggedModel (runs/log-batch)."""
    with mlflow.start_run(experiment_id=session.experiment_id) as run:
        mlflow.log_metrics({"auc": 0.93, "f1": 0.8})
        info = mlflow.sklearn.log_model(
            models.first, name="model", registered_model_name="churn-evaluated", pip_requirements=REQUIREMENTS
        )
    assert info.registered_model_version == "1"
    logged_model = session.client.get_logged_model(info.model_id)
    assert {m.key: m.value for m in logged_model.metrics} == {"auc": 0.93, "f1": 0.8}
    assert session.client.get_run(run.info.run_id).data.metrics == {"auc": 0.93, "f1": 0.8}
    assert_predicts_like("models:/churn-evaluated/1", models.first, models.features, tmp_path / "loaded")


def test_register_model_from_a_run_uri(
    session: MlflowSession, logged: Logged, models: Classifiers, tmp_path: Path
) -> None:
    version = mlflow.register_model(f"runs:/{logged.run_id}/model", "churn-from-run")
    assert (version.name, version.version, version.run_id) == ("churn-from-run", "1", logged.run_id)
    # MLflow 3 logs models outside the run's artifacts: the client rewrites the source to the LoggedModel.
    assert version.source == logged.first.model_uri
    assert session.client.get_model_version("churn-from-run", "1").source == logged.first.model_uri
    assert_predicts_like("models:/churn-from-run/1", models.first, models.features, tmp_path / "loaded")


def test_register_model_from_a_logged_model_uri(
    session: MlflowSession, logged: Logged, models: Classifiers, tmp_path: Path
) -> None:
    version = mlflow.register_model(logged.second.model_uri, "churn-from-logged-model")
    assert (version.version, version.source, version.status) == ("1", logged.second.model_uri, "READY")
    again = mlflow.register_model(logged.second.model_uri, "churn-from-logged-model")  # model exists: v2
    assert again.version == "2"
    assert_predicts_like(
        "models:/churn-from-logged-model/2", models.flipped, models.features, tmp_path / "loaded"
    )


def test_create_model_version_from_a_logged_model(
    session: MlflowSession, logged: Logged, models: Classifiers, tmp_path: Path
) -> None:
    client = session.client
    client.create_registered_model("churn-client")
    created = client.create_model_version(
        "churn-client",
        logged.first.model_uri,
        run_id=logged.run_id,
        model_id=logged.first.model_id,
        tags={"team": "risk"},
        description="first cut",
    )
    assert (created.version, created.tags, created.description) == ("1", {"team": "risk"}, "first cut")
    fetched = client.get_model_version("churn-client", "1")
    assert (fetched.source, fetched.run_id, fetched.tags) == (
        logged.first.model_uri,
        logged.run_id,
        {"team": "risk"},
    )
    assert (fetched.description, fetched.status, fetched.aliases) == ("first cut", "READY", [])
    assert_predicts_like("models:/churn-client/1", models.first, models.features, tmp_path / "loaded")


def test_create_model_version_from_a_runs_plain_artifacts(
    session: MlflowSession, models: Classifiers, tmp_path: Path
) -> None:
    """MLflow 2 style: a saved model directory logged as run artifacts, registered as ``runs:/<id>/model``."""
    saved = tmp_path / "saved"
    mlflow.sklearn.save_model(models.flipped, saved, pip_requirements=REQUIREMENTS)
    with mlflow.start_run(experiment_id=session.experiment_id) as run:
        mlflow.log_artifacts(str(saved), artifact_path="model")
    listed = session.client.list_artifacts(run.info.run_id, "model")
    assert {Path(f.path).name for f in listed} >= {"MLmodel", "model.skops", "requirements.txt"}

    session.client.create_registered_model("churn-artifacts")
    source = f"runs:/{run.info.run_id}/model"
    created = session.client.create_model_version("churn-artifacts", source, run_id=run.info.run_id)
    assert (created.version, created.source, created.run_id) == ("1", source, run.info.run_id)
    assert_predicts_like("models:/churn-artifacts/1", models.flipped, models.features, tmp_path / "loaded")


def test_aliases_set_get_move_load_and_delete(
    session: MlflowSession, logged: Logged, models: Classifiers, tmp_path: Path
) -> None:
    client = session.client
    for version in (logged.first, logged.second):
        mlflow.register_model(version.model_uri, "churn-aliases")
    client.set_registered_model_alias("churn-aliases", "champion", "1")
    client.set_registered_model_alias("churn-aliases", "challenger", "2")
    champion = client.get_model_version_by_alias("churn-aliases", "champion")
    assert (champion.version, champion.aliases) == ("1", ["champion"])
    assert client.get_registered_model("churn-aliases").aliases == {"champion": "1", "challenger": "2"}
    assert_predicts_like("models:/churn-aliases@champion", models.first, models.features, tmp_path / "a")

    client.set_registered_model_alias("churn-aliases", "champion", "2")  # moving an alias is one set
    assert client.get_model_version_by_alias("churn-aliases", "champion").version == "2"
    assert sorted(client.get_model_version("churn-aliases", "2").aliases) == ["challenger", "champion"]
    assert client.get_model_version("churn-aliases", "1").aliases == []
    assert_predicts_like("models:/churn-aliases@champion", models.flipped, models.features, tmp_path / "b")

    client.delete_registered_model_alias("churn-aliases", "champion")
    with pytest.raises(MlflowException) as gone:
        client.get_model_version_by_alias("churn-aliases", "champion")
    assert gone.value.error_code == "INVALID_PARAMETER_VALUE"  # MLflow's code for an unknown alias
    assert client.get_registered_model("churn-aliases").aliases == {"challenger": "2"}
    assert client.get_model_version("churn-aliases", "2").aliases == ["challenger"]


def test_single_value_logging_calls(session: MlflowSession) -> None:
    """The most common lines of training code: one metric, one param, one tag at a time.

    These travel as runs/log-metric, runs/log-parameter and runs/set-tag, not runs/log-batch.
    """
    with mlflow.start_run(experiment_id=session.experiment_id) as run:
        mlflow.log_metric("loss", 0.5, step=1)
        mlflow.log_metric("loss", 0.25, step=2)
        mlflow.log_param("epochs", 2)
        mlflow.set_tag("team", "risk")
    fetched = session.client.get_run(run.info.run_id)
    assert (fetched.data.metrics, fetched.data.params) == ({"loss": 0.25}, {"epochs": "2"})
    assert fetched.data.tags["team"] == "risk"
