"""MLflow's registered-model RPCs through the real app, on SQLite and PostgreSQL.

Expected bodies are what MLflow 3.17.2's own ``mlflow server`` answers for the same calls (checked field by
field against one), with our names, numbers and times; error codes are the ones its client raises.
"""

from __future__ import annotations

import time
from pathlib import Path

from modelreg.api.mlflow.messages import millis
from modelreg.client.client import Client
from modelreg.errors import ModelNotFound
from tests.api.mlflow.conftest import Mlflow, mlflow_error

MODEL_KEYS = {"name", "creation_timestamp", "last_updated_timestamp"}


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def test_create_answers_a_registered_model(mlflow: Mlflow, embedded: Client) -> None:
    before = _now_ms()
    created = mlflow.create_model("churn", tags=[{"key": "team", "value": "risk"}], description="Churn")
    assert set(created) == MODEL_KEYS | {"description", "tags"}
    assert created["name"] == "churn"
    assert created["description"] == "Churn"
    assert created["tags"] == [{"key": "team", "value": "risk"}]
    assert created["creation_timestamp"] == created["last_updated_timestamp"]
    assert before - 5 <= created["creation_timestamp"] <= _now_ms() + 5
    model = embedded.get_model("churn")  # one registry: the model is a modelreg model
    assert (model.description, model.tags, model.latest_version) == ("Churn", {"team": "risk"}, None)
    assert millis(model.created_at) == created["creation_timestamp"]
    # Nothing set: no description, no tags (MLflow omits both), and the same body from get.
    bare = mlflow.create_model("fraud")
    assert set(bare) == MODEL_KEYS
    assert mlflow.registered_model("fraud") == bare


def test_create_errors(mlflow: Mlflow) -> None:
    mlflow.create_model("churn")
    # mlflow.register_model relies on exactly this answer to go on and create a version.
    duplicate = mlflow.post("registered-models/create", {"name": "churn"})
    assert "churn" in mlflow_error(duplicate, 400, "RESOURCE_ALREADY_EXISTS")
    missing = mlflow_error(mlflow.post("registered-models/create", {}), 400, "INVALID_PARAMETER_VALUE")
    assert missing.startswith("Missing value for required parameter 'name'")
    mlflow_error(mlflow.post("registered-models/create", {"name": ""}), 400, "INVALID_PARAMETER_VALUE")
    mlflow_error(mlflow.post("registered-models/create", {"name": 5}), 400, "INVALID_PARAMETER_VALUE")
    mlflow_error(mlflow.post("registered-models/create", {"name": "a b"}), 400, "INVALID_PARAMETER_VALUE")
    bad_tags = {"name": "x", "tags": [{"value": "no key"}]}
    mlflow_error(mlflow.post("registered-models/create", bad_tags), 400, "INVALID_PARAMETER_VALUE")
    mlflow_error(
        mlflow.post("registered-models/create", {"name": "x", "tags": "t"}), 400, "INVALID_PARAMETER_VALUE"
    )
    # None of the refused calls created anything.
    assert [m["name"] for m in mlflow.ok(mlflow.get("registered-models/search"))["registered_models"]] == [
        "churn"
    ]


def test_get_shows_latest_version_per_stage_aliases_and_tags(
    mlflow: Mlflow, embedded: Client, model_dir: Path
) -> None:
    for _ in range(5):
        embedded.push("churn", model_dir)
    embedded.set_stage("churn/1", "production")
    embedded.set_stage("churn/2", "staging")
    embedded.set_stage("churn/3", "staging")
    embedded.set_stage("churn/4", "archived")
    embedded.set_alias("churn", "champion", 1)
    embedded.set_alias("churn", "challenger", 3)
    embedded.set_tag("churn", "team", "risk")
    model = embedded.get_model("churn")
    body = mlflow.registered_model("churn")
    assert set(body) == MODEL_KEYS | {"latest_versions", "tags", "aliases"}
    assert body["creation_timestamp"] == millis(model.created_at)
    assert body["last_updated_timestamp"] == millis(model.updated_at)
    latest = {v["current_stage"]: v["version"] for v in body["latest_versions"]}
    assert latest == {"Production": "1", "Staging": "3", "Archived": "4", "None": "5"}
    assert [v["version"] for v in body["latest_versions"]] == ["1", "3", "4", "5"]
    assert all("aliases" not in v for v in body["latest_versions"])  # as MLflow's store leaves them
    assert body["aliases"] == [{"alias": "challenger", "version": "3"}, {"alias": "champion", "version": "1"}]
    assert body["tags"] == [{"key": "team", "value": "risk"}]
    mlflow_error(mlflow.get("registered-models/get", name="nope"), 404, "RESOURCE_DOES_NOT_EXIST")
    mlflow_error(mlflow.get("registered-models/get"), 400, "INVALID_PARAMETER_VALUE")
    mlflow_error(mlflow.get("registered-models/get", name="churn/1"), 400, "INVALID_PARAMETER_VALUE")


def test_latest_versions_by_get_and_post(mlflow: Mlflow, embedded: Client, model_dir: Path) -> None:
    for _ in range(3):
        embedded.push("churn", model_dir)
    embedded.set_stage("churn/2", "production")
    embedded.set_alias("churn", "champion", 2)
    every = mlflow.ok(mlflow.get("registered-models/get-latest-versions", name="churn"))["model_versions"]
    assert [(v["version"], v["current_stage"]) for v in every] == [("2", "Production"), ("3", "None")]
    assert every[0]["aliases"] == ["champion"]  # this call fills aliases, as MLflow's does
    production = mlflow.ok(
        mlflow.post("registered-models/get-latest-versions", {"name": "churn", "stages": ["production"]})
    )
    assert [v["version"] for v in production["model_versions"]] == ["2"]
    repeated = mlflow.get(
        "registered-models/get-latest-versions", name="churn", stages=["Production", "None"]
    )
    assert [v["version"] for v in mlflow.ok(repeated)["model_versions"]] == ["2", "3"]
    none = mlflow.get("registered-models/get-latest-versions", name="churn", stages="Archived")
    assert mlflow.ok(none) == {}
    bogus = mlflow.get("registered-models/get-latest-versions", name="churn", stages="bogus")
    assert mlflow_error(bogus, 400, "INVALID_PARAMETER_VALUE").startswith(
        "Invalid Model Version stage: bogus"
    )
    unknown = mlflow.get("registered-models/get-latest-versions", name="nope")
    mlflow_error(unknown, 404, "RESOURCE_DOES_NOT_EXIST")


def test_update_rename_and_delete(mlflow: Mlflow, embedded: Client, model_dir: Path) -> None:
    mlflow.create_model("churn", description="first")
    embedded.push("churn", model_dir)
    embedded.set_alias("churn", "champion", 1)
    updated = mlflow.ok(mlflow.patch("registered-models/update", {"name": "churn", "description": "second"}))
    assert updated["registered_model"]["description"] == "second"
    assert embedded.get_model("churn").description == "second"
    # As MLflow: an update without a description clears it.
    cleared = mlflow.ok(mlflow.patch("registered-models/update", {"name": "churn"}))["registered_model"]
    assert "description" not in cleared and embedded.get_model("churn").description == ""
    renamed = mlflow.ok(mlflow.post("registered-models/rename", {"name": "churn", "new_name": "attrition"}))
    body = renamed["registered_model"]
    assert body["name"] == "attrition" and body["aliases"] == [{"alias": "champion", "version": "1"}]
    assert [v["name"] for v in body["latest_versions"]] == ["attrition"]
    assert mlflow.version("attrition", 1)["aliases"] == ["champion"]
    mlflow_error(mlflow.get("registered-models/get", name="churn"), 404, "RESOURCE_DOES_NOT_EXIST")
    mlflow.create_model("other")
    taken = mlflow.post("registered-models/rename", {"name": "attrition", "new_name": "other"})
    mlflow_error(taken, 400, "RESOURCE_ALREADY_EXISTS")
    gone = mlflow.post("registered-models/rename", {"name": "nope", "new_name": "x"})
    mlflow_error(gone, 404, "RESOURCE_DOES_NOT_EXIST")
    mlflow_error(mlflow.post("registered-models/rename", {"name": "other"}), 400, "INVALID_PARAMETER_VALUE")
    mlflow_error(mlflow.patch("registered-models/update", {"name": "nope"}), 404, "RESOURCE_DOES_NOT_EXIST")
    # Deleted models are gone: get, versions, a second delete.
    assert mlflow.ok(mlflow.delete("registered-models/delete", {"name": "attrition"})) == {}
    mlflow_error(mlflow.get("registered-models/get", name="attrition"), 404, "RESOURCE_DOES_NOT_EXIST")
    gone_version = mlflow.get("model-versions/get", name="attrition", version="1")
    mlflow_error(gone_version, 404, "RESOURCE_DOES_NOT_EXIST")
    again = mlflow.delete("registered-models/delete", {"name": "attrition"})
    mlflow_error(again, 404, "RESOURCE_DOES_NOT_EXIST")
    try:
        embedded.get_model("attrition")
        raise AssertionError("the deleted model is still visible")
    except ModelNotFound:
        pass


def test_model_tags(mlflow: Mlflow, embedded: Client) -> None:
    mlflow.create_model("churn")
    assert (
        mlflow.ok(mlflow.post("registered-models/set-tag", {"name": "churn", "key": "team", "value": "risk"}))
        == {}
    )
    assert mlflow.ok(mlflow.post("registered-models/set-tag", {"name": "churn", "key": "empty"})) == {}
    assert embedded.get_model("churn").tags == {"team": "risk", "empty": ""}
    assert mlflow.ok(mlflow.delete("registered-models/delete-tag", {"name": "churn", "key": "team"})) == {}
    # As MLflow: deleting a tag that is not set succeeds, on a model that exists.
    assert mlflow.ok(mlflow.delete("registered-models/delete-tag", {"name": "churn", "key": "team"})) == {}
    assert embedded.get_model("churn").tags == {"empty": ""}
    unknown = mlflow.post("registered-models/set-tag", {"name": "nope", "key": "k", "value": "v"})
    mlflow_error(unknown, 404, "RESOURCE_DOES_NOT_EXIST")
    mlflow_error(
        mlflow.delete("registered-models/delete-tag", {"name": "nope", "key": "k"}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    no_key = mlflow.post("registered-models/set-tag", {"name": "churn", "value": "v"})
    mlflow_error(no_key, 400, "INVALID_PARAMETER_VALUE")
    bad_key = mlflow.post("registered-models/set-tag", {"name": "churn", "key": "../x", "value": "v"})
    mlflow_error(bad_key, 400, "INVALID_PARAMETER_VALUE")
    assert embedded.get_model("churn").tags == {"empty": ""}


def test_aliases(mlflow: Mlflow, embedded: Client, model_dir: Path) -> None:
    embedded.push("churn", model_dir, tags={"k": "v"})
    embedded.push("churn", model_dir)
    body = {"name": "churn", "alias": "champion", "version": "1"}
    assert mlflow.ok(mlflow.post("registered-models/alias", body)) == {}
    assert embedded.get_version("churn@champion").version == 1
    found = mlflow.ok(mlflow.get("registered-models/alias", name="churn", alias="champion"))["model_version"]
    assert found["version"] == "1" and found["aliases"] == ["champion"]
    # MLflow's reserved alias 'latest' reads the newest live version.
    latest = mlflow.ok(mlflow.get("registered-models/alias", name="churn", alias="latest"))["model_version"]
    assert latest["version"] == "2"
    # An alias that is not set is INVALID_PARAMETER_VALUE on MLflow's server, not a 404.
    unset = mlflow.get("registered-models/alias", name="churn", alias="nope")
    mlflow_error(unset, 400, "INVALID_PARAMETER_VALUE")
    for alias in ("latest", "v1", "bad alias", "sha256", ""):
        refused = mlflow.post("registered-models/alias", {"name": "churn", "alias": alias, "version": "1"})
        mlflow_error(refused, 400, "INVALID_PARAMETER_VALUE")
    nine = mlflow.post("registered-models/alias", {"name": "churn", "alias": "x", "version": "9"})
    mlflow_error(nine, 404, "RESOURCE_DOES_NOT_EXIST")
    zero = mlflow.post("registered-models/alias", {"name": "churn", "alias": "x", "version": "0"})
    mlflow_error(zero, 404, "RESOURCE_DOES_NOT_EXIST")
    text = mlflow.post("registered-models/alias", {"name": "churn", "alias": "x", "version": "one"})
    mlflow_error(text, 400, "INVALID_PARAMETER_VALUE")
    unknown = mlflow.post("registered-models/alias", {"name": "nope", "alias": "x", "version": "1"})
    mlflow_error(unknown, 404, "RESOURCE_DOES_NOT_EXIST")
    mlflow_error(
        mlflow.get("registered-models/alias", name="nope", alias="x"), 404, "RESOURCE_DOES_NOT_EXIST"
    )
    # A deleted version cannot take an alias, as in MLflow (where it no longer exists).
    embedded.delete_version("churn/2")
    deleted = mlflow.post("registered-models/alias", {"name": "churn", "alias": "x", "version": "2"})
    mlflow_error(deleted, 404, "RESOURCE_DOES_NOT_EXIST")
    assert mlflow.ok(mlflow.delete("registered-models/alias", {"name": "churn", "alias": "champion"})) == {}
    assert embedded.get_model("churn").aliases == {}
    # As MLflow: deleting an alias that is not set succeeds, on a model that exists.
    assert mlflow.ok(mlflow.delete("registered-models/alias", {"name": "churn", "alias": "champion"})) == {}
    gone = mlflow.delete("registered-models/alias", {"name": "nope", "alias": "champion"})
    mlflow_error(gone, 404, "RESOURCE_DOES_NOT_EXIST")
