"""Who may call each of the 22 registry routes, on both mounts: the auth matrix of MLflow's registry surface.

The registry use cases authorise, exactly as for /api/v1: reads need model:read (viewer and up); writes a
contributor permission; renaming and deleting models and deleting versions are admin's. Refusals come in
MLflow's shape: UNAUTHENTICATED (401) without a valid token, PERMISSION_DENIED (403) without the permission.
Successful calls by every allowed role are shown for the reads here (they change nothing); the writes succeed
in ``test_registry_errors`` (anonymous admin, Basic and Bearer contributors) and the other registry tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from modelreg.client.client import Client
from tests.api.conftest import Secrets, bearer
from tests.api.mlflow.conftest import AJAX, API, MODEL_FILES, Mlflow, mlflow_error
from tests.api.mlflow.test_registry_errors import SCENARIO

READS = {
    "registered-models/get",
    "registered-models/get-latest-versions",
    "registered-models/search",
    "registered-models/alias:GET",
    "model-versions/get",
    "model-versions/get-download-uri",
    "model-versions/search",
}
ADMIN_ONLY = {"registered-models/rename", "registered-models/delete", "model-versions/delete"}
CALLERS = ("none", "revoked", "expired", "viewer", "contributor", "admin")


def _access(method: str, rpc: str) -> str:
    if rpc in READS or f"{rpc}:{method}" in READS:
        return "read"
    return "admin" if rpc in ADMIN_ONLY else "write"


def _allowed(access: str, caller: str) -> bool:
    return {
        "read": caller in ("viewer", "contributor", "admin"),
        "write": caller in ("contributor", "admin"),
        "admin": caller == "admin",
    }[access]


@pytest.fixture
def world(
    mlflow: Mlflow, embedded: Client, model_dir: Path, request: pytest.FixtureRequest
) -> dict[str, Any]:
    """churn/1 with @champion, a run with a model to register; then the tokens (which end anonymous mode)."""
    embedded.push("churn", model_dir)
    embedded.set_alias("churn", "champion", 1)
    embedded.set_tag("churn", "team", "risk")
    embedded.set_tag("churn/1", "k", "v")
    source = mlflow.run(MODEL_FILES)["info"]["artifact_uri"] + "/model"
    secrets: Secrets = request.getfixturevalue("secrets")
    return {"source": source, "secrets": secrets}


@pytest.mark.parametrize("prefix", [API, AJAX], ids=["api", "ajax-api"])
def test_registry_auth_matrix(mlflow: Mlflow, world: dict[str, Any], prefix: str) -> None:
    secrets: Secrets = world["secrets"]
    wrong: list[str] = []
    for method, rpc, message in SCENARIO:
        # Names as the scenario has them after its renames: every target exists.
        filled = {
            key: (value.replace("{source}", world["source"]) if isinstance(value, str) else value)
            for key, value in message.items()
        }
        filled = {key: "churn" if value == "attrition" else value for key, value in filled.items()}
        access = _access(method, rpc)
        for caller in CALLERS:
            headers = {} if caller == "none" else bearer(secrets[caller])
            allowed = _allowed(access, caller)
            if allowed and access != "read":
                continue  # writes succeed in the other tests; here they would change the next call's world
            caller_api = mlflow.as_caller(headers, prefix=prefix)
            response = (
                caller_api.get(rpc, **filled) if method == "GET" else caller_api.send(method, rpc, filled)
            )
            expected = 200 if allowed else 401 if caller in ("none", "revoked", "expired") else 403
            if response.status_code != expected:
                wrong.append(
                    f"{method} {rpc} as {caller}: {response.status_code} != {expected}: {response.text}"
                )
            elif not allowed:
                code = "UNAUTHENTICATED" if expected == 401 else "PERMISSION_DENIED"
                mlflow_error(response, expected, code)
    assert wrong == []
