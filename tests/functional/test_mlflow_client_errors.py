"""The same bad calls through MLflow's client against MLflow's own server and a real ``modelreg serve``.

Both servers are seeded identically through the client (``errors-a`` with one version and the alias
``current``, ``errors-b`` empty), then every call below runs against each. A call must fail with the same
``MlflowException.error_code`` on both (or succeed on both), that code must be the one written here (so a
change in MLflow shows up as a clear failure), and nothing either registry holds may change.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.functional.mlflow_servers import (
    REQUIREMENTS,
    mlflow_session,
    run_mlflow_server,
    run_target_server,
    train_classifiers,
    wait_until_ready,
)

with warnings.catch_warnings():
    # MLflow's own import-time notice about its type hints (mlflow/types/type_hints.py): not ours to fix.
    warnings.filterwarnings("ignore", ".*type hint is inferred as AnyType", UserWarning)
    import mlflow
    import mlflow.pyfunc
    import mlflow.sklearn
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*is deprecated since 2.9.0:FutureWarning"),  # stage calls
    pytest.mark.xdist_group("test_mlflow_client_errors"),  # one worker: its servers start once
]

OK = "OK"
MISSING_RUN, MISSING_LOGGED_MODEL = "0" * 32, "m-" + "0" * 32


@dataclass(frozen=True)
class Source:
    run_id: str
    model_uri: str
    model_id: str


Call = Callable[[MlflowClient, Source], Any]

# label → (call, the error code MLflow's own server answers with; OK: no error)
CALLS: dict[str, tuple[Call, str]] = {
    "get unknown model": (lambda c, s: c.get_registered_model("missing"), "RESOURCE_DOES_NOT_EXIST"),
    "get version of unknown model": (
        lambda c, s: c.get_model_version("missing", "1"),
        "RESOURCE_DOES_NOT_EXIST",
    ),
    "get unknown version": (lambda c, s: c.get_model_version("errors-a", "99"), "RESOURCE_DOES_NOT_EXIST"),
    "get version not a number": (
        lambda c, s: c.get_model_version("errors-a", "abc"),
        "INVALID_PARAMETER_VALUE",
    ),
    "download uri of unknown version": (
        lambda c, s: c.get_model_version_download_uri("errors-a", "99"),
        "RESOURCE_DOES_NOT_EXIST",
    ),
    "create duplicate model": (lambda c, s: c.create_registered_model("errors-a"), "RESOURCE_ALREADY_EXISTS"),
    "create model without name": (lambda c, s: c.create_registered_model(""), "INVALID_PARAMETER_VALUE"),
    "rename onto existing model": (
        lambda c, s: c.rename_registered_model("errors-a", "errors-b"),
        "RESOURCE_ALREADY_EXISTS",
    ),
    "rename unknown model": (
        lambda c, s: c.rename_registered_model("missing", "missing-2"),
        "RESOURCE_DOES_NOT_EXIST",
    ),
    "describe unknown model": (
        lambda c, s: c.update_registered_model("missing", description="x"),
        "RESOURCE_DOES_NOT_EXIST",
    ),
    "describe unknown version": (
        lambda c, s: c.update_model_version("errors-a", "99", description="x"),
        "RESOURCE_DOES_NOT_EXIST",
    ),
    "delete unknown model": (lambda c, s: c.delete_registered_model("missing"), "RESOURCE_DOES_NOT_EXIST"),
    "delete unknown version": (
        lambda c, s: c.delete_model_version("errors-a", "99"),
        "RESOURCE_DOES_NOT_EXIST",
    ),
    "tag unknown model": (
        lambda c, s: c.set_registered_model_tag("missing", "k", "v"),
        "RESOURCE_DOES_NOT_EXIST",
    ),
    "tag unknown version": (
        lambda c, s: c.set_model_version_tag("errors-a", "99", "k", "v"),
        "RESOURCE_DOES_NOT_EXIST",
    ),
    "version of unknown model": (
        lambda c, s: c.create_model_version("missing", s.model_uri, run_id=s.run_id, model_id=s.model_id),
        "RESOURCE_DOES_NOT_EXIST",
    ),
    "alias with a space": (
        lambda c, s: c.set_registered_model_alias("errors-a", "bad alias", "1"),
        "INVALID_PARAMETER_VALUE",
    ),
    "alias 'latest' is reserved": (
        lambda c, s: c.set_registered_model_alias("errors-a", "Latest", "1"),
        "INVALID_PARAMETER_VALUE",
    ),
    "alias 'v<N>' is reserved": (
        lambda c, s: c.set_registered_model_alias("errors-a", "v1", "1"),
        "INVALID_PARAMETER_VALUE",
    ),
    "alias to unknown version": (
        lambda c, s: c.set_registered_model_alias("errors-a", "next", "99"),
        "RESOURCE_DOES_NOT_EXIST",
    ),
    "alias on unknown model": (
        lambda c, s: c.set_registered_model_alias("missing", "next", "1"),
        "RESOURCE_DOES_NOT_EXIST",
    ),
    "get unknown alias": (
        lambda c, s: c.get_model_version_by_alias("errors-a", "absent"),
        "INVALID_PARAMETER_VALUE",
    ),
    "delete unknown alias": (lambda c, s: c.delete_registered_model_alias("errors-a", "absent"), OK),
    "unknown stage": (
        lambda c, s: c.transition_model_version_stage("errors-a", "1", "Shipped"),
        "INVALID_PARAMETER_VALUE",
    ),
    "latest of unknown stage": (
        lambda c, s: c.get_latest_versions("errors-a", stages=["Shipped"]),
        "INVALID_PARAMETER_VALUE",
    ),
    "versions: unknown key": (lambda c, s: c.search_model_versions("bogus = 1"), "INVALID_PARAMETER_VALUE"),
    "versions: number as text": (
        lambda c, s: c.search_model_versions("version_number > 'x'"),
        "INVALID_PARAMETER_VALUE",
    ),
    "versions: unclosed quote": (
        lambda c, s: c.search_model_versions("name = 'abc"),
        "INVALID_PARAMETER_VALUE",
    ),
    "versions: SQL after the filter": (
        lambda c, s: c.search_model_versions("name = 'x'; DROP TABLE models"),
        "INVALID_PARAMETER_VALUE",
    ),
    "versions: max_results over 200,000": (
        lambda c, s: c.search_model_versions(max_results=200_001),
        "INVALID_PARAMETER_VALUE",
    ),
    "versions: garbage page token": (
        lambda c, s: c.search_model_versions(page_token="garbage"),
        "INVALID_PARAMETER_VALUE",
    ),
    "models: OR": (
        lambda c, s: c.search_registered_models("name = 'a' OR name = 'b'"),
        "INVALID_PARAMETER_VALUE",
    ),
    "models: tag compared with >": (
        lambda c, s: c.search_registered_models("tags.team > 'a'"),
        "INVALID_PARAMETER_VALUE",
    ),
    "models: unknown order key": (
        lambda c, s: c.search_registered_models(order_by=["bogus"]),
        "INVALID_PARAMETER_VALUE",
    ),
    "models: order by creation_timestamp": (
        lambda c, s: c.search_registered_models(order_by=["creation_timestamp DESC"]),
        "INVALID_PARAMETER_VALUE",
    ),
    "models: max_results over 1,000": (
        lambda c, s: c.search_registered_models(max_results=1001),
        "INVALID_PARAMETER_VALUE",
    ),
    "models: garbage page token": (
        lambda c, s: c.search_registered_models(page_token="garbage"),
        "INVALID_PARAMETER_VALUE",
    ),
    "unknown run": (lambda c, s: c.get_run(MISSING_RUN), "RESOURCE_DOES_NOT_EXIST"),
    "unknown logged model": (
        lambda c, s: c.get_logged_model(MISSING_LOGGED_MODEL),
        "RESOURCE_DOES_NOT_EXIST",
    ),
    "unknown experiment by name": (lambda c, s: c.get_experiment_by_name("missing"), OK),  # the client: None
}


@dataclass(frozen=True)
class Outcome:
    codes: dict[str, str]
    before: dict[str, Any]
    after: dict[str, Any]


def seed(url: str) -> Outcome:
    with mlflow_session(url, experiment="errors") as session:
        client = session.client
        with mlflow.start_run(experiment_id=session.experiment_id) as run:
            logged = mlflow.sklearn.log_model(
                train_classifiers().first, name="model", pip_requirements=REQUIREMENTS
            )
        source = Source(run.info.run_id, logged.model_uri, logged.model_id)
        client.create_registered_model("errors-a", tags={"team": "risk"}, description="seeded")
        client.create_model_version(
            "errors-a", source.model_uri, run_id=source.run_id, model_id=source.model_id
        )
        client.set_registered_model_alias("errors-a", "current", "1")
        client.create_registered_model("errors-b")
        before = snapshot(client)
        codes = {label: outcome(call, client, source) for label, (call, _) in CALLS.items()}
        return Outcome(codes, before, snapshot(client))


def outcome(call: Call, client: MlflowClient, source: Source) -> str:
    try:
        call(client, source)
    except MlflowException as error:
        return error.error_code
    return OK


def snapshot(client: MlflowClient) -> dict[str, Any]:
    """What each registry holds, without timestamps (which differ between the two servers)."""
    models = {
        m.name: (m.description, m.tags, m.aliases, [v.version for v in m.latest_versions])
        for m in client.search_registered_models()
    }
    versions = {
        (v.name, v.version): (v.current_stage, v.description, v.tags, sorted(v.aliases), v.status)
        for v in client.search_model_versions()
    }
    return {"models": models, "versions": versions}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Outcome, Outcome]:
    """(MLflow's own server, the server under test): each seeded, then every call run once.

    MLflow's server boots while the server under test is seeded and questioned.
    """
    with run_mlflow_server(tmp_path_factory.mktemp("mlflow"), wait=False) as reference_url:
        with run_target_server(tmp_path_factory.mktemp("target")) as target_url:
            target = seed(target_url)
        wait_until_ready(reference_url)
        return seed(reference_url), target


@pytest.mark.parametrize("label", list(CALLS))
def test_error_code_matches_mlflows_own_server(outcomes: tuple[Outcome, Outcome], label: str) -> None:
    reference, target = outcomes
    assert reference.codes[label] == CALLS[label][1], "MLflow itself answers differently now"
    assert target.codes[label] == reference.codes[label]


def test_nothing_changes_and_both_registries_agree(outcomes: tuple[Outcome, Outcome]) -> None:
    reference, target = outcomes
    assert reference.after == reference.before
    assert target.after == target.before
    assert target.before == reference.before
