"""MLflow's model-version RPCs through the real app, on SQLite and PostgreSQL.

A version created through MLflow is a normal modelreg version: its files are the source's, stored once in
the chunk store; the run id is its lineage, the run's latest metrics and params are its own, MLflow's tags
are its tags, and MLflow's own fields live in reserved tags that MLflow's tag lists never show.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from modelreg.api.mlflow.messages import millis
from modelreg.client.client import Client
from modelreg.errors import ModelNotFound
from tests.api.conftest import Secrets, bearer
from tests.api.mlflow.conftest import MODEL_FILES, Mlflow, mlflow_error
from tests.conftest import tree_bytes

VERSION_KEYS = {
    "name", "version", "creation_timestamp", "last_updated_timestamp", "user_id", "current_stage",
    "description", "source", "run_id", "status", "run_link",
}  # fmt: skip


def _files(embedded: Client, ref: str, tmp_path: Path) -> dict[str, bytes]:
    destination = tmp_path / ref.replace("/", "-")
    embedded.pull(ref, dest=destination)
    return tree_bytes(destination)


def test_create_from_a_run(mlflow: Mlflow, embedded: Client, tmp_path: Path) -> None:
    mlflow.create_model("churn")
    # A diverged loss (NaN) is a normal MLflow metric: the version keeps the finite ones.
    run = mlflow.run(MODEL_FILES, metrics={"auc": 0.91, "loss": "NaN"}, params={"C": "1.0"})
    run_id = run["info"]["run_id"]
    created = mlflow.create_version(
        "churn",
        f"runs:/{run_id}/model",
        run_id=run_id,
        tags=[{"key": "team", "value": "risk"}],
        description="first",
        run_link="http://ui/runs/1",
    )
    version = embedded.get_version("churn/1")
    assert created == {
        "name": "churn",
        "version": "1",
        "creation_timestamp": millis(version.created_at),
        "last_updated_timestamp": millis(version.updated_at),
        "user_id": "anonymous",
        "current_stage": "None",
        "description": "first",
        "source": f"runs:/{run_id}/model",
        "run_id": run_id,
        "status": "READY",
        "tags": [{"key": "team", "value": "risk"}],
        "run_link": "http://ui/runs/1",
    }
    assert mlflow.version("churn", 1) == created
    # The same version natively: files, lineage, metrics, params, tags.
    assert _files(embedded, "churn/1", tmp_path) == MODEL_FILES
    assert version.lineage.run_id == run_id
    assert (version.metrics, version.params) == ({"auc": 0.91}, {"C": "1.0"})
    assert version.tags == {
        "team": "risk",
        "modelreg.mlflow.source": f"runs:/{run_id}/model",
        "modelreg.mlflow.run_link": "http://ui/runs/1",
    }
    # Without a run_id the source's run is taken; without tags, description or link MLflow shows "".
    again = mlflow.create_version("churn", f"runs:/{run_id}/model")
    assert set(again) == VERSION_KEYS
    assert (again["version"], again["run_id"], again["description"], again["run_link"]) == (
        "2",
        run_id,
        "",
        "",
    )
    assert embedded.get_version("churn/2").digest == version.digest  # same files, no new content


def test_create_from_a_logged_model(mlflow: Mlflow, embedded: Client, tmp_path: Path) -> None:
    mlflow.create_model("churn")
    run_id = mlflow.run(metrics={"acc": 0.8})["info"]["run_id"]
    model_id = mlflow.logged_model(MODEL_FILES, run_id=run_id)
    # mlflow.register_model("models:/m-…") sends the logged model's id beside its URI.
    created = mlflow.create_version("churn", f"models:/{model_id}", model_id=model_id)
    assert created["source"] == f"models:/{model_id}"
    assert created["run_id"] == run_id  # the logged model's source run
    assert created["model_id"] == model_id
    assert _files(embedded, "churn/1", tmp_path) == MODEL_FILES
    assert embedded.get_version("churn/1").metrics == {"acc": 0.8}
    # MLflow 3 logs a model outside the run's artifacts: runs:/<run>/model finds the run's logged model.
    from_run = mlflow.create_version("churn", f"runs:/{run_id}/model", run_id=run_id)
    assert (from_run["model_id"], from_run["source"]) == (model_id, f"runs:/{run_id}/model")
    assert embedded.get_version("churn/2").digest == embedded.get_version("churn/1").digest
    # A sub-path of the logged model.
    one_file = mlflow.create_version("churn", f"runs:/{run_id}/model/MLmodel")
    assert _files(embedded, "churn/3", tmp_path) == {"MLmodel": MODEL_FILES["MLmodel"]}
    assert one_file["version"] == "3"


def test_create_from_stored_artifacts_and_other_versions(
    mlflow: Mlflow, embedded: Client, model_dir: Path, tmp_path: Path
) -> None:
    run = mlflow.run(MODEL_FILES)
    root = run["info"]["artifact_uri"]
    mlflow.create_model("churn")
    mlflow.create_version("churn", f"{root}/model")
    assert _files(embedded, "churn/1", tmp_path) == MODEL_FILES
    url = f"http://mlflow.example/api/2.0/mlflow-artifacts/artifacts/{root.removeprefix('mlflow-artifacts:/')}/model"
    assert mlflow.create_version("churn", url)["version"] == "2"
    # MLflow's copy_model_version: models:/<name>/<version> (or @alias) copies another version's files.
    embedded.push("native", model_dir, lineage={"run_id": "r-1"})
    embedded.set_alias("native", "champion", 1)
    copied = mlflow.create_version("churn", "models:/native@champion")
    assert copied["source"] == "models:/native/1" and copied["run_id"] == "r-1"
    from_uri = mlflow.create_version("churn", "mlflow-artifacts:/registry/native/1")
    native = embedded.get_version("native/1")
    for number in (copied["version"], from_uri["version"]):
        assert embedded.get_version(f"churn/{number}").digest == native.digest


def test_create_errors_change_nothing(mlflow: Mlflow, embedded: Client, model_dir: Path) -> None:
    run_id = mlflow.run(MODEL_FILES)["info"]["run_id"]
    source = f"runs:/{run_id}/model"
    # The registered model must exist, as in MLflow (a commit alone would create it).
    unknown = mlflow.post("model-versions/create", {"name": "churn", "source": source})
    mlflow_error(unknown, 404, "RESOURCE_DOES_NOT_EXIST")
    with pytest.raises(ModelNotFound):
        embedded.get_model("churn")
    mlflow.create_model("churn")
    refused = {
        "s3://bucket/model": "modelreg registers only artifacts it stores",
        "/tmp/model": "modelreg registers only artifacts it stores",
        "file:///tmp/model": "modelreg registers only artifacts it stores",
        f"runs:/{'0' * 32}/model": "does not exist",
        f"runs:/{run_id}/nothing-here": "no artifacts are stored under it",
        f"runs:/{run_id}/model/../../x": "not allowed",
        f"runs://host/{run_id}/model": "without a host",
        f"models:/m-{'0' * 32}": "does not exist",
        "models:/just-a-name": "expected models:/",
        "mlflow-artifacts:/1/nothing": "no artifacts are stored under it",
        "mlflow-artifacts:/registry/churn": "mlflow-artifacts:/registry/<name>/<version>",
    }
    for bad, why in refused.items():
        response = mlflow.post("model-versions/create", {"name": "churn", "source": bad})
        assert why in mlflow_error(response, 400, "INVALID_PARAMETER_VALUE"), bad
    other_run = mlflow.run()["info"]["run_id"]
    mismatch = {"name": "churn", "source": source, "run_id": other_run}
    assert "run_id" in mlflow_error(
        mlflow.post("model-versions/create", mismatch), 400, "INVALID_PARAMETER_VALUE"
    )
    reserved = {"name": "churn", "source": source, "tags": [{"key": "modelreg.mlflow.source", "value": "x"}]}
    mlflow_error(mlflow.post("model-versions/create", reserved), 400, "INVALID_PARAMETER_VALUE")
    mlflow_error(mlflow.post("model-versions/create", {"name": "churn"}), 400, "INVALID_PARAMETER_VALUE")
    missing_version = mlflow.post("model-versions/create", {"name": "churn", "source": "models:/churn/7"})
    mlflow_error(missing_version, 404, "RESOURCE_DOES_NOT_EXIST")
    assert embedded.get_model("churn").latest_version is None


def test_get_update_delete(mlflow: Mlflow, embedded: Client, model_dir: Path) -> None:
    embedded.push("churn", model_dir, description="pushed natively", lineage={"run_id": "abc"})
    embedded.set_alias("churn", "champion", 1)
    body = mlflow.version("churn", "1")
    assert set(body) == VERSION_KEYS | {"aliases"}
    assert body["source"] == "mlflow-artifacts:/registry/churn/1"  # a native version: its download URI
    assert (body["run_id"], body["description"], body["aliases"]) == ("abc", "pushed natively", ["champion"])
    updated = mlflow.ok(
        mlflow.patch("model-versions/update", {"name": "churn", "version": "1", "description": "d"})
    )
    assert updated["model_version"]["description"] == "d"
    assert embedded.get_version("churn/1").description == "d"
    cleared = mlflow.ok(mlflow.patch("model-versions/update", {"name": "churn", "version": "1"}))
    assert cleared["model_version"]["description"] == ""
    uri = mlflow.ok(mlflow.get("model-versions/get-download-uri", name="churn", version="1"))
    assert uri == {"artifact_uri": "mlflow-artifacts:/registry/churn/1"}
    assert mlflow.ok(mlflow.delete("model-versions/delete", {"name": "churn", "version": "1"})) == {}
    assert embedded.get_version("churn/1").deleted
    assert embedded.get_model("churn").aliases == {}  # aliases go with the version, as in MLflow
    # A deleted version is gone for MLflow: every call that names it is RESOURCE_DOES_NOT_EXIST.
    gone = [
        mlflow.get("model-versions/get", name="churn", version="1"),
        mlflow.delete("model-versions/delete", {"name": "churn", "version": "1"}),
        mlflow.patch("model-versions/update", {"name": "churn", "version": "1", "description": "x"}),
        mlflow.get("model-versions/get-download-uri", name="churn", version="1"),
        mlflow.post("model-versions/set-tag", {"name": "churn", "version": "1", "key": "k", "value": "v"}),
        mlflow.delete("model-versions/delete-tag", {"name": "churn", "version": "1", "key": "k"}),
        mlflow.get("model-versions/get", name="churn", version="2"),
        mlflow.get("model-versions/get", name="churn", version="0"),
        mlflow.get("model-versions/get", name="nope", version="1"),
    ]
    for response in gone:
        mlflow_error(response, 404, "RESOURCE_DOES_NOT_EXIST")
    assert embedded.get_version("churn/1").tags == {}  # the refused tag call changed nothing
    for version in ("x", "1.5", ""):
        mlflow_error(
            mlflow.get("model-versions/get", name="churn", version=version), 400, "INVALID_PARAMETER_VALUE"
        )
    mlflow_error(mlflow.get("model-versions/get", name="churn"), 400, "INVALID_PARAMETER_VALUE")


def test_version_tags(mlflow: Mlflow, embedded: Client, model_dir: Path) -> None:
    embedded.push("churn", model_dir)
    tag = {"name": "churn", "version": "1", "key": "stage.note", "value": "ok"}
    assert mlflow.ok(mlflow.post("model-versions/set-tag", tag)) == {}
    assert mlflow.version("churn", 1)["tags"] == [{"key": "stage.note", "value": "ok"}]
    untag = {"name": "churn", "version": "1", "key": "stage.note"}
    assert mlflow.ok(mlflow.delete("model-versions/delete-tag", untag)) == {}
    assert mlflow.ok(mlflow.delete("model-versions/delete-tag", untag)) == {}  # not set: no error, as MLflow
    assert embedded.get_version("churn/1").tags == {}
    # The reserved keys hold MLflow's fields: not settable or deletable as tags.
    reserved = {"name": "churn", "version": "1", "key": "modelreg.mlflow.source", "value": "s3://x"}
    mlflow_error(mlflow.post("model-versions/set-tag", reserved), 400, "INVALID_PARAMETER_VALUE")
    reserved.pop("value")
    mlflow_error(mlflow.delete("model-versions/delete-tag", reserved), 400, "INVALID_PARAMETER_VALUE")
    mlflow_error(
        mlflow.post("model-versions/set-tag", {**tag, "version": "7"}), 404, "RESOURCE_DOES_NOT_EXIST"
    )
    assert embedded.get_version("churn/1").tags == {}


def test_transition_stage(mlflow: Mlflow, embedded: Client, model_dir: Path) -> None:
    for _ in range(4):
        embedded.push("churn", model_dir)

    def move(version: int, stage: str, archive: bool | None = False) -> dict[str, object]:
        body: dict[str, object] = {"name": "churn", "version": str(version), "stage": stage}
        if archive is not None:
            body["archive_existing_versions"] = archive
        answer: dict[str, object] = mlflow.ok(mlflow.post("model-versions/transition-stage", body))[
            "model_version"
        ]
        return answer

    assert move(1, "Staging")["current_stage"] == "Staging"
    assert move(2, "staging", archive=None)["current_stage"] == "Staging"  # case-insensitive; flag optional
    assert move(3, "STAGING", archive=True)["current_stage"] == "Staging"
    stages = {v.version: v.stage for v in embedded.list_versions("churn")}
    assert stages == {1: "archived", 2: "archived", 3: "staging", 4: "none"}
    assert move(4, "Production", archive=True)["current_stage"] == "Production"
    assert move(3, "Production", archive=True)["current_stage"] == "Production"
    assert embedded.get_version("churn/4").stage == "archived"
    assert move(3, "None")["current_stage"] == "None"
    # Refused, nothing moved: archiving from a stage that is not active (MLflow answers that with a 500).
    for stage in ("None", "Archived"):
        refused = mlflow.post(
            "model-versions/transition-stage",
            {"name": "churn", "version": "1", "stage": stage, "archive_existing_versions": True},
        )
        mlflow_error(refused, 400, "INVALID_PARAMETER_VALUE")
    bogus = mlflow.post("model-versions/transition-stage", {"name": "churn", "version": "1", "stage": "Live"})
    assert "Invalid Model Version stage: Live" in mlflow_error(bogus, 400, "INVALID_PARAMETER_VALUE")
    no_stage = mlflow.post("model-versions/transition-stage", {"name": "churn", "version": "1"})
    mlflow_error(no_stage, 400, "INVALID_PARAMETER_VALUE")
    bad_flag = {"name": "churn", "version": "1", "stage": "Staging", "archive_existing_versions": "yes"}
    mlflow_error(mlflow.post("model-versions/transition-stage", bad_flag), 400, "INVALID_PARAMETER_VALUE")
    unknown = {"name": "churn", "version": "9", "stage": "Staging"}
    mlflow_error(mlflow.post("model-versions/transition-stage", unknown), 404, "RESOURCE_DOES_NOT_EXIST")
    assert {v.version: v.stage for v in embedded.list_versions("churn")} == {
        1: "archived", 2: "archived", 3: "none", 4: "archived"
    }  # fmt: skip


def test_governed_transition_is_refused(
    mlflow: Mlflow, embedded: Client, model_dir: Path, secrets: Secrets
) -> None:
    embedded.push("churn", model_dir)
    embedded.push("churn", model_dir)
    embedded.set_stage("churn/1", "production")
    embedded.set_policy('[[rule]]\ntarget = "production"\napprovals = 1\n')
    mlflow = mlflow.as_caller(bearer(secrets["contributor"]))
    body = {"name": "churn", "version": "2", "stage": "Production", "archive_existing_versions": True}
    message = mlflow_error(mlflow.post("model-versions/transition-stage", body), 403, "PERMISSION_DENIED")
    assert "approval" in message
    assert [v.stage for v in embedded.list_versions("churn").items] == ["none", "production"]
    # Leaving production is governed too (for all but holders of promotion:emergency).
    leave = {"name": "churn", "version": "1", "stage": "Archived"}
    mlflow_error(mlflow.post("model-versions/transition-stage", leave), 403, "PERMISSION_DENIED")
    assert embedded.get_version("churn/1").stage == "production"
