"""Governance and authentication apply to MLflow's client as to every other surface of ``modelreg serve``.

Two servers: one with a promotion policy (``MODELREG_POLICY_FILE``) that wants an approval for the
production stage and for ``@champion``; one with API tokens (``modelreg token create``), which MLflow's
client presents as ``MLFLOW_TRACKING_TOKEN`` (bearer) or as the password of ``MLFLOW_TRACKING_USERNAME`` /
``MLFLOW_TRACKING_PASSWORD`` (basic).
"""

from __future__ import annotations

import subprocess
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import modelreg
from tests.functional.mlflow_servers import (
    BIN,
    REQUIREMENTS,
    Classifiers,
    MlflowSession,
    mlflow_session,
    run_modelreg_server,
    train_classifiers,
)

# One worker runs this module, so its module-scoped servers start once (addopts: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("test_mlflow_client_governance")

with warnings.catch_warnings():
    # MLflow's own import-time notice about its type hints (mlflow/types/type_hints.py): not ours to fix.
    warnings.filterwarnings("ignore", ".*type hint is inferred as AnyType", UserWarning)
    import mlflow
    import mlflow.pyfunc
    import mlflow.sklearn
    from mlflow.exceptions import MlflowException

POLICY = """
[[rule]]
target = "production"
approvals = 1

[[rule]]
target = "@champion"
approvals = 1
"""


@dataclass(frozen=True)
class Secured:
    url: str
    admin: str  # token secrets
    viewer: str


@pytest.fixture(scope="module")
def models() -> Classifiers:
    return train_classifiers()


@pytest.fixture(scope="module")
def governed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowSession]:
    root = tmp_path_factory.mktemp("governed")
    (root / "policy.toml").write_text(POLICY)
    env = {"MODELREG_POLICY_FILE": str(root / "policy.toml")}
    with run_modelreg_server(root, env=env) as url, mlflow_session(url, experiment="governed") as session:
        yield session


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    root = tmp_path_factory.mktemp("secured")
    database, storage = f"sqlite:///{root / 'registry.db'}", f"file://{root / 'chunks'}"
    admin = create_token(database, storage, name="ci", role="admin")
    viewer = create_token(database, storage, name="reader", role="viewer")
    with run_modelreg_server(root, database=database, storage=storage) as url:
        yield Secured(url, admin, viewer)


def create_token(database: str, storage: str, *, name: str, role: str) -> str:
    """``modelreg token create``: the secret is the command's whole stdout."""
    command = [str(BIN / "modelreg"), "--registry", database, "--storage", storage, "token", "create"]
    done = subprocess.run(
        [*command, "--name", name, "--role", role], capture_output=True, check=True, timeout=60
    )
    secret = done.stdout.decode().strip()
    assert secret.startswith("mrt_"), done
    return secret


def error_code(call: Callable[[], object]) -> str:
    with pytest.raises(MlflowException) as raised:
        call()
    return raised.value.error_code


# Governance ------------------------------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:.*is deprecated since 2.9.0:FutureWarning")
def test_production_and_protected_aliases_need_an_approval(
    governed: MlflowSession, models: Classifiers
) -> None:
    client = governed.client
    with mlflow.start_run(experiment_id=governed.experiment_id):
        mlflow.sklearn.log_model(
            models.first, name="model", registered_model_name="governed", pip_requirements=REQUIREMENTS
        )
    assert client.transition_model_version_stage("governed", "1", "Staging").current_stage == "Staging"
    denied = lambda: client.transition_model_version_stage("governed", "1", "Production")  # noqa: E731
    assert error_code(denied) == "PERMISSION_DENIED"
    assert (
        error_code(lambda: client.set_registered_model_alias("governed", "champion", "1"))
        == "PERMISSION_DENIED"
    )
    assert client.get_model_version("governed", "1").current_stage == "Staging"  # nothing moved
    assert client.get_latest_versions("governed", stages=["Production"]) == []
    assert client.get_registered_model("governed").aliases == {}

    client.set_registered_model_alias("governed", "candidate", "1")  # ungoverned aliases move as before
    assert client.get_model_version_by_alias("governed", "candidate").version == "1"
    with modelreg.connect(governed.url) as reg:  # the governed way: a request that waits for an approver
        assert reg.request_promotion("governed/1", to="production").status == "pending"
    assert client.get_model_version("governed", "1").current_stage == "Staging"


# Authentication --------------------------------------------------------------------------------------------
def test_a_bearer_token_logs_registers_and_loads(
    secured: Secured, models: Classifiers, tmp_path: Path
) -> None:
    env = {"MLFLOW_TRACKING_TOKEN": secured.admin}
    with mlflow_session(secured.url, experiment="auth", env=env) as session:
        with mlflow.start_run(experiment_id=session.experiment_id):
            info = mlflow.sklearn.log_model(
                models.first, name="model", registered_model_name="bearer", pip_requirements=REQUIREMENTS
            )
        assert info.registered_model_version == "1"
        session.client.set_registered_model_alias("bearer", "candidate", "1")
        loaded = mlflow.pyfunc.load_model("models:/bearer@candidate", dst_path=str(tmp_path))
        np.testing.assert_array_equal(loaded.predict(models.features), models.first.predict(models.features))


def test_basic_auth_with_a_token_as_the_password(secured: Secured) -> None:
    env = {"MLFLOW_TRACKING_USERNAME": "ci", "MLFLOW_TRACKING_PASSWORD": secured.admin}
    with mlflow_session(secured.url, experiment="auth", env=env) as session:
        session.client.create_registered_model("basic", description="made with basic auth")
        assert session.client.get_registered_model("basic").description == "made with basic auth"
        assert "basic" in {m.name for m in session.client.search_registered_models()}


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"MLFLOW_TRACKING_TOKEN": "mrt_not-a-real-token"},
        {"MLFLOW_TRACKING_USERNAME": "ci", "MLFLOW_TRACKING_PASSWORD": "mrt_not-a-real-token"},
    ],
    ids=["no credentials", "unknown bearer token", "unknown basic password"],
)
def test_without_a_valid_token_every_call_is_unauthenticated(secured: Secured, env: dict[str, str]) -> None:
    with mlflow_session(secured.url, experiment=None, env=env) as session:
        client = session.client
        assert error_code(client.search_registered_models) == "UNAUTHENTICATED"
        assert error_code(lambda: client.create_registered_model("intruder")) == "UNAUTHENTICATED"
        assert error_code(lambda: client.get_experiment_by_name("auth")) == "UNAUTHENTICATED"
    with modelreg.connect(secured.url, token=secured.admin) as reg:  # nothing was written
        assert "intruder" not in {m.name for m in reg.list_models(limit=1000).items}


def test_a_viewer_token_reads_but_may_not_write(secured: Secured) -> None:
    with modelreg.connect(secured.url, token=secured.admin) as reg:
        reg.create_model("for-viewers", description="read me")
    with mlflow_session(
        secured.url, experiment=None, env={"MLFLOW_TRACKING_TOKEN": secured.viewer}
    ) as session:
        client = session.client
        assert "for-viewers" in {m.name for m in client.search_registered_models()}
        assert client.get_registered_model("for-viewers").description == "read me"
        assert (
            error_code(lambda: client.update_registered_model("for-viewers", description="x"))
            == "PERMISSION_DENIED"
        )
        assert error_code(lambda: client.create_registered_model("by-a-viewer")) == "PERMISSION_DENIED"
        assert error_code(lambda: client.get_registered_model("by-a-viewer")) == "RESOURCE_DOES_NOT_EXIST"
