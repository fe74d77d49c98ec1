"""The 22 registry routes on both of MLflow's mounts, MLflow's error shape and codes, and authentication.

Every error under MLflow's prefixes is ``{"error_code", "message"}`` with the status MLflow gives the code;
bad input of any kind is a 4xx, never a 500 (MLflow's client retries 5xx, POSTs included).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from modelreg import errors
from modelreg.api.errors import error_response, internal_error
from modelreg.api.mlflow import model_version_routes, registered_model_routes, registry_routes
from modelreg.api.mlflow.errors import mlflow_error as mapped
from modelreg.client.client import Client
from tests.api.conftest import Secrets, assert_error, bearer
from tests.api.mlflow.conftest import API, MODEL_FILES, Mlflow, mlflow_error

# (method, rpc, message): one successful call per route, in an order that leaves each one's target there.
SCENARIO: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "registered-models/create", {"name": "churn", "description": "d"}),
    ("GET", "registered-models/get", {"name": "churn"}),
    ("PATCH", "registered-models/update", {"name": "churn", "description": "e"}),
    ("POST", "registered-models/set-tag", {"name": "churn", "key": "team", "value": "risk"}),
    ("DELETE", "registered-models/delete-tag", {"name": "churn", "key": "team"}),
    ("POST", "model-versions/create", {"name": "churn", "source": "{source}"}),
    ("GET", "model-versions/get", {"name": "churn", "version": "1"}),
    ("PATCH", "model-versions/update", {"name": "churn", "version": "1", "description": "v"}),
    ("POST", "model-versions/set-tag", {"name": "churn", "version": "1", "key": "k", "value": "v"}),
    ("DELETE", "model-versions/delete-tag", {"name": "churn", "version": "1", "key": "k"}),
    ("POST", "registered-models/alias", {"name": "churn", "alias": "champion", "version": "1"}),
    ("GET", "registered-models/alias", {"name": "churn", "alias": "champion"}),
    ("DELETE", "registered-models/alias", {"name": "churn", "alias": "champion"}),
    ("GET", "registered-models/get-latest-versions", {"name": "churn"}),
    ("POST", "registered-models/get-latest-versions", {"name": "churn", "stages": ["None"]}),
    (
        "POST",
        "model-versions/transition-stage",
        {"name": "churn", "version": "1", "stage": "Staging", "archive_existing_versions": False},
    ),
    ("GET", "model-versions/get-download-uri", {"name": "churn", "version": "1"}),
    ("GET", "model-versions/search", {"filter": "name = 'churn'"}),
    ("GET", "registered-models/search", {"max_results": "10"}),
    ("POST", "registered-models/rename", {"name": "churn", "new_name": "attrition"}),
    ("DELETE", "model-versions/delete", {"name": "attrition", "version": "1"}),
    ("DELETE", "registered-models/delete", {"name": "attrition"}),
]


def _call(mlflow: Mlflow, method: str, rpc: str, message: dict[str, Any]) -> Any:
    if method == "GET":
        return mlflow.get(rpc, **message)
    return mlflow.send(method, rpc, message)


def test_the_scenario_covers_the_22_routes() -> None:
    routes = {
        (method, route.path.lstrip("/"))
        for module in (registered_model_routes, model_version_routes)
        for route in module.router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    }
    included = [getattr(route, "original_router", None) for route in registry_routes.router.routes]
    assert included == [registered_model_routes.router, model_version_routes.router]
    assert len(routes) == 22
    assert {(method, rpc) for method, rpc, _ in SCENARIO} == routes


def test_every_route_on_both_mounts(mount: Mlflow) -> None:
    source = mount.run(MODEL_FILES)["info"]["artifact_uri"] + "/model"
    for method, rpc, message in SCENARIO:
        filled = {k: v.replace("{source}", source) if isinstance(v, str) else v for k, v in message.items()}
        response = _call(mount, method, rpc, filled)
        assert response.status_code == 200, (method, rpc, response.text)
        assert isinstance(response.json(), dict)
    mlflow_error(mount.get("registered-models/get", name="attrition"), 404, "RESOURCE_DOES_NOT_EXIST")


def test_unknown_routes_and_methods(client: TestClient) -> None:
    for prefix in ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow", "/api/2.0/mlflow-artifacts", "/api/3.0/mlflow"):
        unknown = client.get(f"{prefix}/registered-models/nothing")
        assert "no such route" in mlflow_error(unknown, 404, "ENDPOINT_NOT_FOUND")
    wrong_method = client.post(f"{API}/registered-models/get", json={"name": "x"})
    assert "not allowed" in mlflow_error(wrong_method, 404, "ENDPOINT_NOT_FOUND")
    assert wrong_method.headers["allow"] == "GET"
    # Elsewhere the errors keep modelreg's own shape.
    assert_error(client.get("/api/v1/nothing"), 404, "NOT_FOUND")
    assert_error(client.get("/api/2.0/mlflowx/registered-models/get"), 404, "NOT_FOUND")


def test_malformed_bodies(mlflow: Mlflow, client: TestClient, embedded: Client) -> None:
    url = f"{API}/registered-models/create"
    for body in (b"{not json", b"[1, 2]", b'"just a string"', b"\xff\xfe"):
        response = client.post(url, content=body, headers={"Content-Type": "application/json"})
        mlflow_error(response, 400, "INVALID_PARAMETER_VALUE")
    # Older MLflow clients send their JSON encoded twice, as a JSON string: MLflow's server accepts that.
    twice = json.dumps(json.dumps({"name": "legacy"})).encode()
    assert client.post(url, content=twice, headers={"Content-Type": "application/json"}).status_code == 200
    assert embedded.get_model("legacy").name == "legacy"


# Bad fields of every kind: wrong types, huge or hostile values. The answer is always a 4xx in MLflow's shape.
HOSTILE: list[dict[str, Any]] = [
    {},
    {"name": ["a", "b"]},
    {"name": {"a": 1}},
    {"name": "churn", "version": ["1", "2"]},
    {"name": "churn", "version": "99999999999999999999"},
    {"name": "churn", "version": "-1"},
    {"name": "x" * 5000},
    {"name": "bad\x00name"},
    {"name": "churn", "tags": "t", "stages": 5},
    {"name": "churn", "tags": [1, 2], "stages": ["Nope"]},
    {"name": "churn", "alias": "a" * 300, "version": "1"},
    {"name": "churn", "key": "k" * 300, "value": "v"},
    {"name": "churn", "key": "k", "value": "v" * 100_001},
    {"name": "churn", "description": 7, "new_name": 3},
    {"name": "churn", "source": "runs:/" + "x" * 3000, "run_id": 5},
    {"name": "churn", "source": "mlflow-artifacts:/%2e%2e/%2e%2e/etc"},
    {"name": "churn", "version": "1", "stage": ["Staging"], "archive_existing_versions": "maybe"},
    {"filter": "'", "max_results": True, "order_by": "name; DROP TABLE models"},
    {"filter": "name = 'a' OR", "max_results": "1e3", "page_token": 5},
    {"filter": "x" * 5000, "page_token": "!!!"},
]


def test_bad_input_is_never_a_server_error(mlflow: Mlflow, embedded: Client, model_dir: Path) -> None:
    embedded.push("churn", model_dir)
    for method, rpc, _ in SCENARIO:
        for message in HOSTILE:
            if method == "GET" and any(len(str(value)) > 10_000 for value in message.values()):
                continue  # no client can put that in a URL (httpx refuses it); bodies carry it
            response = _call(mlflow, method, rpc, message)
            if response.status_code == 200:  # only fields this RPC ignores were bad (e.g. a delete of churn)
                continue
            assert 400 <= response.status_code < 500, (method, rpc, message, response.text)
            body = response.json()
            assert set(body) == {"error_code", "message"}, (method, rpc, body)


@pytest.mark.parametrize(
    ("error", "code", "status"),
    [
        (errors.ModelAlreadyExists("x"), "RESOURCE_ALREADY_EXISTS", 400),
        (errors.ExperimentAlreadyExists("x"), "RESOURCE_ALREADY_EXISTS", 400),
        (errors.ModelregError.from_code("VERSION_EXISTS", "x"), "RESOURCE_ALREADY_EXISTS", 400),
        (errors.ModelNotFound("x"), "RESOURCE_DOES_NOT_EXIST", 404),
        (errors.RunNotFound("x"), "RESOURCE_DOES_NOT_EXIST", 404),
        (errors.VersionDeleted("x"), "RESOURCE_DOES_NOT_EXIST", 404),
        (errors.InvalidFilter("x"), "INVALID_PARAMETER_VALUE", 400),
        (errors.InvalidPageToken("x"), "INVALID_PARAMETER_VALUE", 400),
        (errors.PayloadTooLarge("x"), "INVALID_PARAMETER_VALUE", 413),
        (errors.MethodNotAllowed("x"), "ENDPOINT_NOT_FOUND", 404),
        (errors.AuthenticationRequired("x"), "UNAUTHENTICATED", 401),
        (errors.PermissionDenied("x"), "PERMISSION_DENIED", 403),
        (errors.SeparationOfDuties("x"), "PERMISSION_DENIED", 403),
        (errors.PolicyCheckFailed("x"), "PERMISSION_DENIED", 403),
        (errors.VersionProtected("x"), "RESOURCE_CONFLICT", 409),
        (errors.VersionPurged("x"), "RESOURCE_CONFLICT", 409),
        (errors.StorageUnavailable("x"), "TEMPORARILY_UNAVAILABLE", 503),
        (errors.ChunkBeingCollected("x"), "TEMPORARILY_UNAVAILABLE", 503),
        (errors.DigestMismatch("x"), "DATA_LOSS", 500),
        (errors.ModelregError("x"), "INTERNAL_ERROR", 500),
    ],
)
def test_error_mapping(error: errors.ModelregError, code: str, status: int) -> None:
    assert (mapped(error).code, mapped(error).status) == (code, status)
    response = error_response(error, path="/ajax-api/2.0/mlflow/model-versions/get")
    assert response.status_code == status
    assert json.loads(response.body) == {"error_code": code, "message": "x"}


def test_internal_errors_take_the_shape_of_their_path() -> None:
    mlflow_500 = internal_error("req-1", path="/api/2.0/mlflow/registered-models/get")
    assert mlflow_500.status_code == 500
    body = json.loads(mlflow_500.body)
    assert body["error_code"] == "INTERNAL_ERROR" and "req-1" in body["message"]
    ours = json.loads(internal_error("req-2", path="/api/v1/models").body)
    assert ours["error"]["code"] == "INTERNAL_ERROR" and ours["error"]["details"] == {"request_id": "req-2"}


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_authentication(mlflow: Mlflow, secrets: Secrets, embedded: Client, model_dir: Path) -> None:
    embedded.push("churn", model_dir)
    # Tokens exist now: no credentials is UNAUTHENTICATED, in MLflow's shape.
    unauthenticated = mlflow.get("registered-models/get", name="churn")
    mlflow_error(unauthenticated, 401, "UNAUTHENTICATED")
    assert "Basic" in unauthenticated.headers["www-authenticate"]
    # MLFLOW_TRACKING_USERNAME/PASSWORD: Basic, the password a token; the user name is not the identity.
    contributor = mlflow.as_caller(_basic("anyone", secrets["contributor"]))
    created = contributor.create_model("fraud")
    assert created["name"] == "fraud"
    run_id = contributor.run(MODEL_FILES)["info"]["run_id"]
    version = contributor.create_version("fraud", f"runs:/{run_id}/model")
    assert version["user_id"] == "token:contributor"
    # MLFLOW_TRACKING_TOKEN: Bearer.
    viewer = mlflow.as_caller(bearer(secrets["viewer"]))
    assert viewer.registered_model("churn")["name"] == "churn"
    denied = viewer.post("registered-models/create", {"name": "new"})
    assert "model:write" in mlflow_error(denied, 403, "PERMISSION_DENIED")
    refused = [
        _basic("alice", "mrt_wrong"),
        _basic("alice", ""),
        _basic("alice", secrets["revoked"]),
        _basic("alice", secrets["expired"]),
        {"Authorization": "Basic !!!not-base64"},
        {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
        {"Authorization": "Basic"},
        {"Authorization": "Digest abc"},
    ]
    for headers in refused:
        response = mlflow.as_caller(headers).get("registered-models/get", name="churn")
        mlflow_error(response, 401, "UNAUTHENTICATED")
    # Both mounts, both schemes.
    ajax = mlflow.as_caller(_basic("x", secrets["admin"]), prefix="/ajax-api/2.0/mlflow")
    assert ajax.ok(ajax.delete("registered-models/delete", {"name": "fraud"})) == {}
