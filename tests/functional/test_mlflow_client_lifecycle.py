"""MLflow's client managing models on a real ``modelreg serve``: tags, descriptions, rename, delete, stages.

Each test works on its own registered model, built from one LoggedModel through ``create_model_version``;
``MLFLOW_COMPAT_REFERENCE=1`` runs the module against MLflow's own server.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

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
pytestmark = pytest.mark.xdist_group("test_mlflow_client_lifecycle")

with warnings.catch_warnings():
    # MLflow's own import-time notice about its type hints (mlflow/types/type_hints.py): not ours to fix.
    warnings.filterwarnings("ignore", ".*type hint is inferred as AnyType", UserWarning)
    import mlflow
    import mlflow.pyfunc
    import mlflow.sklearn
    from mlflow.exceptions import MlflowException

# Stages are deprecated in MLflow (since 2.9) but still served, and still what many teams' scripts call.
STAGES_DEPRECATED = pytest.mark.filterwarnings("ignore:.*is deprecated since 2.9.0:FutureWarning")


@dataclass(frozen=True)
class Source:
    run_id: str
    model_uri: str
    model_id: str


@pytest.fixture(scope="module")
def models() -> Classifiers:
    return train_classifiers()


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowSession]:
    with (
        run_target_server(tmp_path_factory.mktemp("server")) as url,
        mlflow_session(url, experiment="lifecycle") as session,
    ):
        yield session


@pytest.fixture(scope="module")
def source(session: MlflowSession, models: Classifiers) -> Source:
    with mlflow.start_run(experiment_id=session.experiment_id) as run:
        logged = mlflow.sklearn.log_model(models.first, name="model", pip_requirements=REQUIREMENTS)
    return Source(run.info.run_id, logged.model_uri, logged.model_id)


def register(session: MlflowSession, source: Source, name: str, *, versions: int) -> None:
    session.client.create_registered_model(name)
    for _ in range(versions):
        session.client.create_model_version(
            name, source.model_uri, run_id=source.run_id, model_id=source.model_id
        )


def error_code(call: Callable[[], object]) -> str:
    """The MlflowException error code ``call()`` raises (the test fails if it raises nothing)."""
    with pytest.raises(MlflowException) as raised:
        call()
    return raised.value.error_code


def stages(session: MlflowSession, name: str) -> dict[str, str]:
    return {v.version: v.current_stage for v in session.client.search_model_versions(f"name = '{name}'")}


# -----------------------------------------------------------------------------------------------------------
def test_registered_model_tags_and_description(session: MlflowSession) -> None:
    client = session.client
    created = client.create_registered_model(
        "described", tags={"team": "risk", "tier": "1"}, description="first"
    )
    assert (created.name, created.tags, created.description) == (
        "described",
        {"team": "risk", "tier": "1"},
        "first",
    )
    assert client.update_registered_model("described", description="second").description == "second"
    client.set_registered_model_tag("described", "owner", "ml-platform")
    client.set_registered_model_tag("described", "tier", "2")  # overwrites
    client.delete_registered_model_tag("described", "team")

    fetched = client.get_registered_model("described")
    assert (fetched.tags, fetched.description) == ({"tier": "2", "owner": "ml-platform"}, "second")
    assert fetched.last_updated_timestamp >= fetched.creation_timestamp
    assert [m.name for m in client.search_registered_models("tags.owner = 'ml-platform'")] == ["described"]
    assert list(client.search_registered_models("tags.team = 'risk' AND name = 'described'")) == []


def test_model_version_tags_and_description(session: MlflowSession, source: Source) -> None:
    client = session.client
    register(session, source, "version-notes", versions=2)
    client.set_model_version_tag("version-notes", "1", "validated", "true")
    client.set_model_version_tag("version-notes", "1", "reviewer", "ada")
    client.delete_model_version_tag("version-notes", "1", "reviewer")
    updated = client.update_model_version("version-notes", "1", description="passed the holdout check")
    assert (updated.version, updated.description) == ("1", "passed the holdout check")

    fetched = client.get_model_version("version-notes", "1")
    assert (fetched.tags, fetched.description) == ({"validated": "true"}, "passed the holdout check")
    assert client.get_model_version("version-notes", "2").tags == {}
    found = client.search_model_versions("name = 'version-notes' AND tags.validated = 'true'")
    assert [v.version for v in found] == ["1"]


def test_rename_moves_versions_aliases_and_tags(
    session: MlflowSession, source: Source, models: Classifiers, tmp_path: Path
) -> None:
    client = session.client
    register(session, source, "before-rename", versions=2)
    client.set_registered_model_alias("before-rename", "champion", "2")
    client.set_registered_model_tag("before-rename", "team", "risk")

    client.rename_registered_model("before-rename", "after-rename")
    assert error_code(lambda: client.get_registered_model("before-rename")) == "RESOURCE_DOES_NOT_EXIST"
    fetched = client.get_registered_model("after-rename")
    assert (fetched.aliases, fetched.tags) == ({"champion": "2"}, {"team": "risk"})
    assert [(v.name, v.version) for v in fetched.latest_versions] == [("after-rename", "2")]
    assert [v.version for v in client.search_model_versions("name = 'after-rename'")] == ["2", "1"]
    assert list(client.search_model_versions("name = 'before-rename'")) == []
    assert client.get_model_version_by_alias("after-rename", "champion").name == "after-rename"
    (tmp_path / "loaded").mkdir()
    loaded = mlflow.pyfunc.load_model("models:/after-rename@champion", dst_path=str(tmp_path / "loaded"))
    np.testing.assert_array_equal(loaded.predict(models.features), models.first.predict(models.features))

    client.create_registered_model("before-rename")  # the old name is free again, with nothing in it
    assert client.get_registered_model("before-rename").latest_versions == []


def test_deleting_a_version_drops_its_aliases_and_never_reuses_its_number(
    session: MlflowSession, source: Source
) -> None:
    client = session.client
    register(session, source, "pruned", versions=3)
    client.set_registered_model_alias("pruned", "keep", "1")
    client.set_registered_model_alias("pruned", "gone", "3")

    client.delete_model_version("pruned", "3")
    assert error_code(lambda: client.get_model_version("pruned", "3")) == "RESOURCE_DOES_NOT_EXIST"
    assert (
        error_code(lambda: client.get_model_version_by_alias("pruned", "gone")) == "INVALID_PARAMETER_VALUE"
    )
    assert client.get_registered_model("pruned").aliases == {"keep": "1"}
    assert [v.version for v in client.search_model_versions("name = 'pruned'")] == ["2", "1"]

    again = client.create_model_version(
        "pruned", source.model_uri, run_id=source.run_id, model_id=source.model_id
    )
    assert again.version == "4"
    assert [v.version for v in client.get_registered_model("pruned").latest_versions] == ["4"]


def test_deleting_a_registered_model_hides_it_and_its_versions(
    session: MlflowSession, source: Source
) -> None:
    client = session.client
    register(session, source, "doomed", versions=2)
    client.set_registered_model_alias("doomed", "current", "2")
    client.set_registered_model_tag("doomed", "team", "risk")

    client.delete_registered_model("doomed")
    assert error_code(lambda: client.get_registered_model("doomed")) == "RESOURCE_DOES_NOT_EXIST"
    assert error_code(lambda: client.get_model_version("doomed", "1")) == "RESOURCE_DOES_NOT_EXIST"
    assert (
        error_code(lambda: client.get_model_version_by_alias("doomed", "current"))
        == "RESOURCE_DOES_NOT_EXIST"
    )
    assert list(client.search_registered_models("name = 'doomed'")) == []
    assert list(client.search_model_versions("name = 'doomed'")) == []

    recreated = client.create_registered_model("doomed")  # the name can be used again, starting empty
    assert (recreated.tags, recreated.aliases, recreated.description) == ({}, {}, "")
    assert client.get_registered_model("doomed").latest_versions == []
    assert list(client.search_model_versions("name = 'doomed'")) == []


@STAGES_DEPRECATED
def test_transition_stage_with_and_without_archiving(session: MlflowSession, source: Source) -> None:
    client = session.client
    register(session, source, "staged", versions=3)
    assert client.transition_model_version_stage("staged", "1", "staging").current_stage == "Staging"
    client.transition_model_version_stage("staged", "1", "Production")
    client.transition_model_version_stage("staged", "2", "Production")  # without archiving: two in Production
    assert stages(session, "staged") == {"1": "Production", "2": "Production", "3": "None"}
    assert [v.version for v in client.get_latest_versions("staged", stages=["Production"])] == ["2"]

    moved = client.transition_model_version_stage("staged", "3", "Production", archive_existing_versions=True)
    assert (moved.version, moved.current_stage) == ("3", "Production")
    assert stages(session, "staged") == {"1": "Archived", "2": "Archived", "3": "Production"}

    client.transition_model_version_stage("staged", "2", "Staging")
    latest = client.get_registered_model("staged").latest_versions
    assert {(v.current_stage, v.version) for v in latest} == {
        ("Staging", "2"),
        ("Production", "3"),
        ("Archived", "1"),
    }
    assert {(v.current_stage, v.version) for v in client.get_latest_versions("staged")} == {
        ("Staging", "2"),
        ("Production", "3"),
        ("Archived", "1"),
    }
    # Archiving applies to the target stage only: entering Staging archives the other Staging version.
    client.transition_model_version_stage("staged", "1", "Staging", archive_existing_versions=True)
    assert stages(session, "staged") == {"1": "Staging", "2": "Archived", "3": "Production"}
    client.transition_model_version_stage("staged", "3", "None")
    assert stages(session, "staged") == {"1": "Staging", "2": "Archived", "3": "None"}
    assert client.get_latest_versions("staged", stages=["Production"]) == []
