"""Fixtures for MLflow's REST surface: requests shaped exactly as MLflow 3.17.2's client sends them.

``Mlflow`` wraps the real app's ``TestClient`` (``tests/api/conftest.py``: SQLite and PostgreSQL): GET
requests carry the message as query parameters (a repeated field repeats its key), every other method a
JSON body, as ``mlflow.utils.rest_utils.call_endpoint`` does. Tracking data a registration needs (an
experiment, a run with artifacts, metrics and params, a logged model) is made through MLflow's own tracking
and artifact routes, the way ``mlflow.<flavor>.log_model`` makes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient

API = "/api/2.0/mlflow"
AJAX = "/ajax-api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
MODEL_FILES = {"MLmodel": b"flavors: {}\n", "model.pkl": b"\x80\x04weights" * 100, "conda.yaml": b"name: m\n"}


def mlflow_error(response: httpx.Response, status: int, code: str) -> str:
    """MLflow's error shape (``error_code`` and ``message``, nothing else) with the expected status and
    code; returns the message."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error_code", "message"}, body
    assert body["error_code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    return str(body["message"])


class Mlflow:
    """MLflow-shaped calls through the app under one mount (``/api/2.0/mlflow`` or the UI's ajax-api)."""

    def __init__(self, client: TestClient, *, prefix: str = API, headers: Mapping[str, str] | None = None):
        self.client = client
        self.prefix = prefix
        self.headers = dict(headers or {})

    def as_caller(self, headers: Mapping[str, str], *, prefix: str | None = None) -> Mlflow:
        return Mlflow(self.client, prefix=prefix or self.prefix, headers=headers)

    # One request per RPC: the response, unchecked.

    def get(self, rpc: str, **params: Any) -> httpx.Response:
        return self.client.get(f"{self.prefix}/{rpc}", params=params, headers=self.headers)

    def send(self, method: str, rpc: str, body: Any = None) -> httpx.Response:
        return self.client.request(method, f"{self.prefix}/{rpc}", json=body, headers=self.headers)

    def post(self, rpc: str, body: Any = None) -> httpx.Response:
        return self.send("POST", rpc, body if body is not None else {})

    def patch(self, rpc: str, body: Any) -> httpx.Response:
        return self.send("PATCH", rpc, body)

    def delete(self, rpc: str, body: Any) -> httpx.Response:
        return self.send("DELETE", rpc, body)

    # The same, expecting success.

    @staticmethod
    def ok(response: httpx.Response) -> Any:
        assert response.status_code == 200, response.text
        return response.json()

    def create_model(self, name: str, **fields: Any) -> dict[str, Any]:
        body: dict[str, Any] = self.ok(self.post("registered-models/create", {"name": name, **fields}))
        return body["registered_model"]  # type: ignore[no-any-return]

    def create_version(self, name: str, source: str, **fields: Any) -> dict[str, Any]:
        body = self.ok(self.post("model-versions/create", {"name": name, "source": source, **fields}))
        return body["model_version"]  # type: ignore[no-any-return]

    def version(self, name: str, version: str | int) -> dict[str, Any]:
        body = self.ok(self.get("model-versions/get", name=name, version=str(version)))
        return body["model_version"]  # type: ignore[no-any-return]

    def registered_model(self, name: str) -> dict[str, Any]:
        body = self.ok(self.get("registered-models/get", name=name))
        return body["registered_model"]  # type: ignore[no-any-return]

    # Tracking data, as MLflow's client makes it (always under /api: the tracking routes are not ours).

    def experiment(self, name: str = "training") -> str:
        found = self.client.get(
            f"{API}/experiments/get-by-name", params={"experiment_name": name}, headers=self.headers
        )
        if found.status_code == 200:
            return str(found.json()["experiment"]["experiment_id"])
        created = self._tracking("POST", "experiments/create", {"name": name})
        return str(created["experiment_id"])

    def run(
        self,
        files: Mapping[str, bytes] | None = None,
        *,
        metrics: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        path: str = "model",
    ) -> dict[str, Any]:
        """A run with ``files`` under ``<artifact_uri>/<path>/`` and the given metrics and params."""
        experiment = self.experiment()
        run: dict[str, Any] = self._tracking("POST", "runs/create", {"experiment_id": experiment})["run"]
        run_id = run["info"]["run_id"]
        root = run["info"]["artifact_uri"].removeprefix("mlflow-artifacts:/")
        for name, data in (files or {}).items():
            self.upload(f"{root}/{path}/{name}", data)
        batch = {
            "run_id": run_id,
            "metrics": [
                {"key": k, "value": v, "timestamp": 1_700_000_000_000, "step": 0}
                for k, v in (metrics or {}).items()
            ],
            "params": [{"key": k, "value": v} for k, v in (params or {}).items()],
        }
        self._tracking("POST", "runs/log-batch", batch)
        return run

    def logged_model(
        self, files: Mapping[str, bytes], *, run_id: str | None = None, name: str = "model"
    ) -> str:
        """A finalized logged model (MLflow 3) with ``files`` under its artifact location; its id."""
        body: dict[str, Any] = {"experiment_id": self.experiment(), "name": name}
        if run_id is not None:
            body["source_run_id"] = run_id
        model = self._tracking("POST", "logged-models", body)["model"]
        model_id = str(model["info"]["model_id"])
        root = model["info"]["artifact_uri"].removeprefix("mlflow-artifacts:/")
        for file, data in files.items():
            self.upload(f"{root}/{file}", data)
        self._tracking(
            "PATCH", f"logged-models/{model_id}", {"model_id": model_id, "status": "LOGGED_MODEL_READY"}
        )
        return model_id

    def upload(self, path: str, data: bytes) -> None:
        response = self.client.put(f"{ARTIFACTS}/{path}", content=data, headers=self.headers)
        assert response.status_code == 200, response.text

    def _tracking(self, method: str, rpc: str, body: Any) -> Any:
        return self.ok(self.client.request(method, f"{API}/{rpc}", json=body, headers=self.headers))


@pytest.fixture
def mlflow(client: TestClient) -> Mlflow:
    return Mlflow(client)


@pytest.fixture(params=[API, AJAX], ids=["api", "ajax-api"])
def mount(request: pytest.FixtureRequest, client: TestClient) -> Mlflow:
    """The same calls under each of MLflow's mounts: /api/2.0/mlflow and the UI's /ajax-api/2.0/mlflow."""
    return Mlflow(client, prefix=request.param)
