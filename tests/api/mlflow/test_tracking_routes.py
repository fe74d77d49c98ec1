"""MLflow's tracking subset through the real app: experiments, runs, logged models, server-info.

Expected bodies are what MLflow 3.17.2's own ``mlflow server`` answers for the same calls (field names,
which fields are present, types), with our ids and times.
"""

from __future__ import annotations

import re
from typing import Any

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Secrets, bearer
from tests.api.mlflow.conftest import mlflow_error

API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
RUN_ID = re.compile(r"[0-9a-f]{32}")
MODEL_ID = re.compile(r"m-[0-9a-f]{32}")


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def create_experiment(client: TestClient, name: str = "churn", **fields: Any) -> str:
    body = ok(client.post(f"{API}/experiments/create", json={"name": name, **fields}))
    assert set(body) == {"experiment_id"}
    return str(body["experiment_id"])


def create_run(client: TestClient, experiment_id: str, **fields: Any) -> dict[str, Any]:
    body = ok(client.post(f"{API}/runs/create", json={"experiment_id": experiment_id, **fields}))
    run: dict[str, Any] = body["run"]
    return run


def create_model(client: TestClient, experiment_id: str, **fields: Any) -> dict[str, Any]:
    body = ok(client.post(f"{API}/logged-models", json={"experiment_id": experiment_id, **fields}))
    model: dict[str, Any] = body["model"]
    return model


def test_server_info_under_both_prefixes(client: TestClient) -> None:
    expected = {
        "store_type": "SqlStore",
        "workspaces_enabled": False,
        "trace_archival_enabled": False,
        "multipart_uploads_enabled": False,
        "multipart_downloads_enabled": False,
        "presigned_upload_run_id_supported": False,
        "presigned_upload_model_id_supported": False,
        "features_enabled": {"gateway": False},
    }
    assert ok(client.get("/api/3.0/mlflow/server-info")) == expected
    assert ok(client.get("/ajax-api/3.0/mlflow/server-info")) == expected


def test_experiments_create_get_and_get_by_name(client: TestClient) -> None:
    default = ok(client.get(f"{API}/experiments/get-by-name", params={"experiment_name": "Default"}))
    experiment = default["experiment"]
    assert set(experiment) == {
        "experiment_id", "name", "artifact_location", "lifecycle_stage", "last_update_time",
        "creation_time", "workspace",
    }  # fmt: skip
    assert experiment["experiment_id"] == "0" and experiment["name"] == "Default"
    assert experiment["artifact_location"] == "mlflow-artifacts:/0"
    assert experiment["lifecycle_stage"] == "active" and experiment["workspace"] == "default"
    assert isinstance(experiment["creation_time"], int) and experiment["creation_time"] > 1_600_000_000_000

    experiment_id = create_experiment(client, "churn", tags=[{"key": "team", "value": "risk"}])
    assert experiment_id.isdigit() and experiment_id != "0"
    got = ok(client.get(f"{API}/experiments/get", params={"experiment_id": experiment_id}))["experiment"]
    assert got["name"] == "churn" and got["artifact_location"] == f"mlflow-artifacts:/{experiment_id}"
    assert got["tags"] == [{"key": "team", "value": "risk"}]
    by_name = ok(client.get(f"{API}/experiments/get-by-name", params={"experiment_name": "churn"}))
    assert by_name == {"experiment": got}
    # The UI's prefix serves the same RPCs.
    assert ok(
        client.get("/ajax-api/2.0/mlflow/experiments/get", params={"experiment_id": experiment_id})
    ) == {"experiment": got}


def test_experiment_errors(client: TestClient) -> None:
    create_experiment(client, "churn")
    duplicate = client.post(f"{API}/experiments/create", json={"name": "churn"})
    mlflow_error(duplicate, 400, "RESOURCE_ALREADY_EXISTS")
    missing = client.post(f"{API}/experiments/create", json={})
    assert "'name'" in mlflow_error(missing, 400, "INVALID_PARAMETER_VALUE")
    mlflow_error(client.post(f"{API}/experiments/create", json={"name": ""}), 400, "INVALID_PARAMETER_VALUE")
    mlflow_error(client.post(f"{API}/experiments/create", json={"name": 5}), 400, "INVALID_PARAMETER_VALUE")
    bad_tags = client.post(f"{API}/experiments/create", json={"name": "x", "tags": "team=risk"})
    mlflow_error(bad_tags, 400, "INVALID_PARAMETER_VALUE")
    elsewhere = client.post(f"{API}/experiments/create", json={"name": "x", "artifact_location": "s3://b/x"})
    mlflow_error(elsewhere, 400, "INVALID_PARAMETER_VALUE")
    not_json = client.post(
        f"{API}/experiments/create", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    mlflow_error(not_json, 400, "INVALID_PARAMETER_VALUE")
    mlflow_error(client.post(f"{API}/experiments/create", json=["x"]), 400, "INVALID_PARAMETER_VALUE")
    unknown = client.get(f"{API}/experiments/get-by-name", params={"experiment_name": "nope"})
    mlflow_error(unknown, 404, "RESOURCE_DOES_NOT_EXIST")
    mlflow_error(client.get(f"{API}/experiments/get-by-name"), 400, "INVALID_PARAMETER_VALUE")
    unknown_id = client.get(f"{API}/experiments/get", params={"experiment_id": "999"})
    mlflow_error(unknown_id, 404, "RESOURCE_DOES_NOT_EXIST")
    not_an_id = client.get(f"{API}/experiments/get", params={"experiment_id": "abc"})
    mlflow_error(not_an_id, 400, "INVALID_PARAMETER_VALUE")
    # Nothing was created by the refused calls.
    for name in ("x", ""):
        gone = client.get(f"{API}/experiments/get-by-name", params={"experiment_name": name or "-"})
        mlflow_error(gone, 404, "RESOURCE_DOES_NOT_EXIST")


def test_run_lifecycle(client: TestClient) -> None:
    experiment_id = create_experiment(client)
    tags = [{"key": "mlflow.user", "value": "bob"}, {"key": "mlflow.source.type", "value": "LOCAL"}]
    run = create_run(client, experiment_id, run_name="r1", start_time=1_700_000_000_000, tags=tags)
    assert set(run) == {"info", "data", "inputs"}  # MLflow's create answer has no "outputs"
    info = run["info"]
    run_id = info["run_id"]
    assert RUN_ID.fullmatch(run_id) and info["run_uuid"] == run_id
    assert info["experiment_id"] == experiment_id and info["run_name"] == "r1"
    assert info["status"] == "RUNNING" and info["start_time"] == 1_700_000_000_000
    assert "end_time" not in info and info["lifecycle_stage"] == "active"
    assert info["artifact_uri"] == f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts"
    assert isinstance(info["user_id"], str)
    assert {"key": "mlflow.runName", "value": "r1"} in run["data"]["tags"]
    assert {"key": "mlflow.user", "value": "bob"} in run["data"]["tags"]
    assert run["inputs"] == {}

    metrics = [
        {"key": "auc", "value": 0.9, "timestamp": 1_700_000_000_001, "step": 0},
        {"key": "auc", "value": 0.95, "timestamp": 1_700_000_000_002, "step": 1},
        {"key": "loss", "value": "NaN", "timestamp": 1_700_000_000_003},
    ]
    batch = {"run_id": run_id, "metrics": metrics, "params": [{"key": "lr", "value": "0.1"}]}
    batch["tags"] = [{"key": "team", "value": "risk"}]
    assert ok(client.post(f"{API}/runs/log-batch", json=batch)) == {}
    got = ok(client.get(f"{API}/runs/get", params={"run_id": run_id}))["run"]
    assert set(got) == {"info", "data", "inputs", "outputs"} and got["outputs"] == {}
    latest = {metric["key"]: metric for metric in got["data"]["metrics"]}
    assert latest["auc"] == {"key": "auc", "value": 0.95, "timestamp": 1_700_000_000_002, "step": 1}
    assert latest["loss"] == {"key": "loss", "value": "NaN", "timestamp": 1_700_000_000_003, "step": 0}
    assert got["data"]["params"] == [{"key": "lr", "value": "0.1"}]
    assert {"key": "team", "value": "risk"} in got["data"]["tags"]

    update = {"run_id": run_id, "status": "FINISHED", "end_time": 1_700_000_009_999}
    run_info = ok(client.post(f"{API}/runs/update", json=update))["run_info"]
    assert run_info["status"] == "FINISHED" and run_info["end_time"] == 1_700_000_009_999
    assert run_info["run_id"] == run_id and run_info["start_time"] == 1_700_000_000_000
    renamed = ok(client.post(f"{API}/runs/update", json={"run_uuid": run_id, "run_name": "r2", "status": 4}))
    assert renamed["run_info"]["run_name"] == "r2" and renamed["run_info"]["status"] == "FAILED"
    again = ok(client.get(f"{API}/runs/get", params={"run_uuid": run_id}))["run"]
    assert (
        again["info"]["run_name"] == "r2"
        and {"key": "mlflow.runName", "value": "r2"} in again["data"]["tags"]
    )


def test_single_metric_param_and_tag_and_metric_history(client: TestClient) -> None:
    """What ``mlflow.log_metric``, ``log_param`` and ``set_tag`` send, one item per call."""
    run_id = create_run(client, create_experiment(client))["info"]["run_id"]
    for step, value in ((0, 0.5), (1, 0.75), (2, 0.7)):
        metric = {"run_id": run_id, "key": "acc", "value": value, "timestamp": 1_700_000_000_000 + step}
        assert ok(client.post(f"{API}/runs/log-metric", json={**metric, "step": step})) == {}
    assert (
        ok(client.post(f"{API}/runs/log-parameter", json={"run_id": run_id, "key": "C", "value": "1.0"}))
        == {}
    )
    assert (
        ok(client.post(f"{API}/runs/set-tag", json={"run_uuid": run_id, "key": "stage", "value": "dev"}))
        == {}
    )
    data = ok(client.get(f"{API}/runs/get", params={"run_id": run_id}))["run"]["data"]
    assert data["metrics"] == [{"key": "acc", "value": 0.7, "timestamp": 1_700_000_000_002, "step": 2}]
    assert data["params"] == [{"key": "C", "value": "1.0"}]
    assert {"key": "stage", "value": "dev"} in data["tags"]
    history = ok(client.get(f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "acc"}))
    assert [(m["step"], m["value"]) for m in history["metrics"]] == [(0, 0.5), (1, 0.75), (2, 0.7)]
    none = ok(client.get(f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "nope"}))
    assert none == {}
    no_key = client.post(f"{API}/runs/log-metric", json={"run_id": run_id, "value": 1, "timestamp": 1})
    mlflow_error(no_key, 400, "INVALID_PARAMETER_VALUE")
    changed = client.post(f"{API}/runs/log-parameter", json={"run_id": run_id, "key": "C", "value": "2"})
    mlflow_error(changed, 400, "INVALID_PARAMETER_VALUE")
    unknown = client.get(f"{API}/metrics/get-history", params={"run_id": "0" * 32, "metric_key": "acc"})
    mlflow_error(unknown, 404, "RESOURCE_DOES_NOT_EXIST")
    missing = client.get(f"{API}/metrics/get-history", params={"run_id": run_id})
    mlflow_error(missing, 400, "INVALID_PARAMETER_VALUE")


def test_run_inputs_and_outputs(client: TestClient) -> None:
    experiment_id = create_experiment(client)
    run_id = create_run(client, experiment_id)["info"]["run_id"]
    model_id = create_model(client, experiment_id, name="model", source_run_id=run_id)["info"]["model_id"]
    dataset = {"name": "d", "digest": "abc", "source_type": "local", "source": "{}", "schema": "{}"}
    context = [{"key": "mlflow.data.context", "value": "training"}]
    inputs = {"run_id": run_id, "datasets": [{"dataset": dataset, "tags": context}]}
    assert ok(client.post(f"{API}/runs/log-inputs", json=inputs)) == {}
    models = {"run_id": run_id, "models": [{"model_id": model_id}]}
    assert ok(client.post(f"{API}/runs/log-inputs", json=models)) == {}
    outputs = {"run_id": run_id, "models": [{"model_id": model_id, "step": 3}]}
    assert ok(client.post(f"{API}/runs/outputs", json=outputs)) == {}
    run = ok(client.get(f"{API}/runs/get", params={"run_id": run_id}))["run"]
    assert run["inputs"] == {
        "dataset_inputs": [{"tags": context, "dataset": dataset}],
        "model_inputs": [{"model_id": model_id}],
    }
    assert run["outputs"] == {"model_outputs": [{"model_id": model_id, "step": 3}]}


def test_run_errors(client: TestClient) -> None:
    experiment_id = create_experiment(client)
    run_id = create_run(client, experiment_id)["info"]["run_id"]
    unknown = "0" * 32
    for path, body in (
        ("runs/update", {"run_id": unknown, "status": "FINISHED"}),
        ("runs/log-batch", {"run_id": unknown}),
        ("runs/log-inputs", {"run_id": unknown}),
        ("runs/outputs", {"run_id": unknown, "models": [{"model_id": "m-" + "0" * 32}]}),
    ):
        mlflow_error(client.post(f"{API}/{path}", json=body), 404, "RESOURCE_DOES_NOT_EXIST")
    mlflow_error(client.get(f"{API}/runs/get", params={"run_id": unknown}), 404, "RESOURCE_DOES_NOT_EXIST")
    mlflow_error(client.get(f"{API}/runs/get"), 400, "INVALID_PARAMETER_VALUE")
    no_experiment = client.post(f"{API}/runs/create", json={"experiment_id": "999"})
    mlflow_error(no_experiment, 404, "RESOURCE_DOES_NOT_EXIST")
    mlflow_error(client.post(f"{API}/runs/create", json={}), 400, "INVALID_PARAMETER_VALUE")
    bad_start = client.post(f"{API}/runs/create", json={"experiment_id": experiment_id, "start_time": "x"})
    mlflow_error(bad_start, 400, "INVALID_PARAMETER_VALUE")
    bad_status = client.post(f"{API}/runs/update", json={"run_id": run_id, "status": "NOPE"})
    mlflow_error(bad_status, 400, "INVALID_PARAMETER_VALUE")
    no_value = {"run_id": run_id, "metrics": [{"key": "auc", "timestamp": 1}]}
    message = mlflow_error(
        client.post(f"{API}/runs/log-batch", json=no_value), 400, "INVALID_PARAMETER_VALUE"
    )
    assert "metrics[0].value" in message
    bad_value = {"run_id": run_id, "metrics": [{"key": "auc", "value": "x", "timestamp": 1}]}
    mlflow_error(client.post(f"{API}/runs/log-batch", json=bad_value), 400, "INVALID_PARAMETER_VALUE")
    mlflow_error(client.post(f"{API}/runs/log-batch", json={"run_id": run_id, "metrics": "x"}), 400,
                 "INVALID_PARAMETER_VALUE")  # fmt: skip
    no_models = client.post(f"{API}/runs/outputs", json={"run_id": run_id})
    mlflow_error(no_models, 400, "INVALID_PARAMETER_VALUE")
    # A param's value never changes once logged (MLflow refuses the change too).
    ok(client.post(f"{API}/runs/log-batch", json={"run_id": run_id, "params": [{"key": "lr", "value": "1"}]}))
    changed = client.post(
        f"{API}/runs/log-batch", json={"run_id": run_id, "params": [{"key": "lr", "value": "2"}]}
    )
    mlflow_error(changed, 400, "INVALID_PARAMETER_VALUE")
    run = ok(client.get(f"{API}/runs/get", params={"run_id": run_id}))["run"]
    assert run["data"].get("metrics") is None and run["data"]["params"] == [{"key": "lr", "value": "1"}]
    assert run["info"]["status"] == "RUNNING"


def test_logged_model_lifecycle(client: TestClient) -> None:
    experiment_id = create_experiment(client)
    run_id = create_run(client, experiment_id)["info"]["run_id"]
    model = create_model(
        client,
        experiment_id,
        name="model",
        source_run_id=run_id,
        params=[{"key": "alpha", "value": "1"}],
        tags=[{"key": "mlflow.source.name", "value": "train.py"}],
    )
    info = model["info"]
    model_id = info["model_id"]
    assert MODEL_ID.fullmatch(model_id)
    assert info["experiment_id"] == experiment_id and info["name"] == "model"
    assert info["status"] == "LOGGED_MODEL_PENDING" and info["source_run_id"] == run_id
    assert info["model_type"] == ""
    assert info["artifact_uri"] == f"mlflow-artifacts:/{experiment_id}/models/{model_id}/artifacts"
    assert info["creation_timestamp_ms"] == info["last_updated_timestamp_ms"] > 1_600_000_000_000
    assert info["tags"] == [{"key": "mlflow.source.name", "value": "train.py"}]
    assert model["data"] == {"params": [{"key": "alpha", "value": "1"}]}
    assert ok(client.get(f"{API}/logged-models/{model_id}")) == {"model": model}

    ready = ok(
        client.patch(
            f"{API}/logged-models/{model_id}", json={"model_id": model_id, "status": "LOGGED_MODEL_READY"}
        )
    )
    assert ready["model"]["info"]["status"] == "LOGGED_MODEL_READY"
    assert ready["model"]["info"]["last_updated_timestamp_ms"] >= info["creation_timestamp_ms"]
    tags = {"tags": [{"key": "mlflow.modelVersions", "value": '[{"name": "churn", "version": 1}]'}]}
    assert ok(client.patch(f"{API}/logged-models/{model_id}/tags", json=tags)) == {}
    got = ok(client.get(f"{API}/logged-models/{model_id}"))["model"]
    assert {"key": "mlflow.modelVersions", "value": '[{"name": "churn", "version": 1}]'} in got["info"][
        "tags"
    ]
    assert got["info"]["status"] == "LOGGED_MODEL_READY"

    # An unnamed model without a run: MLflow's server shows "" for the type and the source run.
    bare = create_model(client, experiment_id)
    assert bare["info"]["name"] and bare["info"]["source_run_id"] == "" and bare["data"] == {}
    failed = client.patch(f"{API}/logged-models/{bare['info']['model_id']}", json={"status": 3})
    assert ok(failed)["model"]["info"]["status"] == "LOGGED_MODEL_UPLOAD_FAILED"


def test_logged_model_errors(client: TestClient) -> None:
    experiment_id = create_experiment(client)
    model_id = create_model(client, experiment_id, name="model")["info"]["model_id"]
    unknown = "m-" + "0" * 32
    mlflow_error(client.get(f"{API}/logged-models/{unknown}"), 404, "RESOURCE_DOES_NOT_EXIST")
    finalize = client.patch(f"{API}/logged-models/{unknown}", json={"status": "LOGGED_MODEL_READY"})
    mlflow_error(finalize, 404, "RESOURCE_DOES_NOT_EXIST")
    tags = client.patch(f"{API}/logged-models/{unknown}/tags", json={"tags": [{"key": "k", "value": "v"}]})
    mlflow_error(tags, 404, "RESOURCE_DOES_NOT_EXIST")
    no_experiment = client.post(f"{API}/logged-models", json={"experiment_id": "999"})
    mlflow_error(no_experiment, 404, "RESOURCE_DOES_NOT_EXIST")
    mlflow_error(client.post(f"{API}/logged-models", json={}), 400, "INVALID_PARAMETER_VALUE")
    for status in ("BOGUS", "LOGGED_MODEL_STATUS_UNSPECIFIED", 0, 9, None):
        body = {} if status is None else {"status": status}
        refused = client.patch(f"{API}/logged-models/{model_id}", json=body)
        mlflow_error(refused, 400, "INVALID_PARAMETER_VALUE")
    no_key = client.patch(f"{API}/logged-models/{model_id}/tags", json={"tags": [{"value": "v"}]})
    mlflow_error(no_key, 400, "INVALID_PARAMETER_VALUE")
    model = ok(client.get(f"{API}/logged-models/{model_id}"))["model"]
    assert model["info"]["status"] == "LOGGED_MODEL_PENDING" and "tags" not in model["info"]


def test_search_logged_models(client: TestClient) -> None:
    experiment_id = create_experiment(client)
    run_id = create_run(client, experiment_id)["info"]["run_id"]
    first = create_model(client, experiment_id, name="model", source_run_id=run_id)["info"]["model_id"]
    second = create_model(client, experiment_id, name="other", source_run_id=run_id)["info"]["model_id"]
    create_model(client, "0", name="model")  # another experiment: never found below
    search = f"{API}/logged-models/search"

    found = ok(client.post(search, json={
        "experiment_ids": [experiment_id], "filter": f"source_run_id = '{run_id}' AND name = 'model'",
    }))  # fmt: skip
    assert [model["info"]["model_id"] for model in found["models"]] == [first]
    assert "next_page_token" not in found

    newest_first = {
        "experiment_ids": [experiment_id],
        "order_by": [{"field_name": "name", "ascending": False}],
    }
    ordered = ok(client.post(search, json=newest_first))
    assert [model["info"]["model_id"] for model in ordered["models"]] == [second, first]

    seen: list[str] = []
    body: dict[str, Any] = {"experiment_ids": [experiment_id], "max_results": 1,
                            "order_by": [{"field_name": "name"}]}  # fmt: skip
    for _ in range(3):
        page = ok(client.post(search, json=body))
        seen += [model["info"]["model_id"] for model in page.get("models", [])]
        if "next_page_token" not in page:
            break
        body["page_token"] = page["next_page_token"]
    assert seen == [first, second]

    assert ok(client.post(search, json={"experiment_ids": [experiment_id], "filter": "name = 'none'"})) == {}
    mlflow_error(client.post(search, json={}), 400, "INVALID_PARAMETER_VALUE")
    bad_filter = client.post(search, json={"experiment_ids": [experiment_id], "filter": "bogus ~~ 1"})
    mlflow_error(bad_filter, 400, "INVALID_PARAMETER_VALUE")
    bad_token = client.post(search, json={"experiment_ids": [experiment_id], "page_token": "nope"})
    mlflow_error(bad_token, 400, "INVALID_PARAMETER_VALUE")


def test_list_run_artifacts(client: TestClient) -> None:
    experiment_id = create_experiment(client)
    run = create_run(client, experiment_id)
    run_id, root_uri = run["info"]["run_id"], run["info"]["artifact_uri"]
    root = f"{experiment_id}/{run_id}/artifacts"
    assert ok(client.get(f"{API}/artifacts/list", params={"run_id": run_id})) == {"root_uri": root_uri}
    for path, data in (("model/MLmodel", b"flavors: {}\n"), ("model/sub/w.bin", b"x" * 1000), ("a.txt", b"")):
        assert client.put(f"{ARTIFACTS}/{root}/{path}", content=data).status_code == 200
    listed = ok(client.get(f"{API}/artifacts/list", params={"run_id": run_id}))
    assert listed == {
        "root_uri": root_uri,
        "files": [{"path": "a.txt", "is_dir": False}, {"path": "model", "is_dir": True}],
    }
    nested = ok(client.get(f"{API}/artifacts/list", params={"run_id": run_id, "path": "model"}))
    assert nested["files"] == [
        {"path": "model/MLmodel", "is_dir": False, "file_size": 12},
        {"path": "model/sub", "is_dir": True},
    ]
    a_file = ok(client.get(f"{API}/artifacts/list", params={"run_id": run_id, "path": "model/MLmodel"}))
    assert a_file == {"root_uri": root_uri}
    for bad in ("../x", "model/../../x", "/etc"):
        escape = client.get(f"{API}/artifacts/list", params={"run_id": run_id, "path": bad})
        mlflow_error(escape, 400, "INVALID_PARAMETER_VALUE")
    unknown = client.get(f"{API}/artifacts/list", params={"run_id": "0" * 32})
    mlflow_error(unknown, 404, "RESOURCE_DOES_NOT_EXIST")


@pytest.mark.parametrize("role", ["viewer", "contributor"])
def test_tracking_permissions(client: TestClient, secrets: Secrets, role: str) -> None:
    """Reads need tracking:read (viewers have it), writes tracking:write (contributors and up)."""
    headers = bearer(secrets[role])
    assert ok(client.get(f"{API}/experiments/get", params={"experiment_id": "0"}, headers=headers))
    created = client.post(f"{API}/experiments/create", json={"name": f"by-{role}"}, headers=headers)
    if role == "viewer":
        mlflow_error(created, 403, "PERMISSION_DENIED")
        run = client.post(f"{API}/runs/create", json={"experiment_id": "0"}, headers=headers)
        mlflow_error(run, 403, "PERMISSION_DENIED")
    else:
        assert ok(created)["experiment_id"].isdigit()
    anonymous = client.get(f"{API}/experiments/get", params={"experiment_id": "0"})
    mlflow_error(anonymous, 401, "UNAUTHENTICATED")
