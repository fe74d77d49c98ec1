"""The auth matrix: every route of the app × every kind of caller → the expected status.

The matrix is checked against the app's own route table, so a route added without an entry here (or an entry
left behind by a removed route) fails ``test_the_matrix_covers_every_route``.

Callers: no token, viewer, contributor, admin, a revoked token, an expired token. Access classes follow the
roles (modelreg.access): ``read`` needs model:read / version:pull (viewer and up), ``write`` needs a
contributor permission, ``admin`` needs token:admin, version:delete or storage:admin, ``public`` needs
nothing.
"""

from __future__ import annotations

import base64
import contextlib
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from modelreg.access import Actor
from modelreg.api.mlflow.errors import is_mlflow_path
from modelreg.client.client import Client
from modelreg.errors import ModelNotFound
from modelreg.types import ModelVersion, Promotion
from tests.api.conftest import Secrets, assert_error, bearer

CALLERS = ("none", "revoked", "expired", "viewer", "contributor", "admin")
ALLOWED = {
    "public": set(CALLERS),
    "read": {"viewer", "contributor", "admin"},
    "write": {"contributor", "admin"},
    "admin": {"admin"},
}
V1 = "/api/v1/models/churn/versions/1"


@dataclass(frozen=True)
class Case:
    access: str
    success: int
    url: str
    json: Any = None
    content: str | None = None  # "chunk": the bytes of the seeded version's first chunk
    prepare: Callable[[Client], object] | None = None  # restores what a successful call used up


MODELS = "/api/v1/models"
NAME = MODELS + "/{name}"  # route templates
REF = NAME + "/versions/{ref}"
ACCESS = "/api/v1/access"
PROMOTIONS = "/api/v1/promotions"
GATED = '[[rule]]\ntarget = "@gated"\napprovals = 1\n'


def _pending(sdk: Client, requester: str = "alice") -> Promotion:
    """A fresh request, pending one approval, by ``requester`` (the admin token's caller is someone else)."""
    sdk.set_policy(GATED)
    if requester != "alice":
        sdk = Client(sdk._backend.as_actor(Actor(requester, role="contributor")))  # type: ignore[attr-defined]
    return sdk.request_promotion("churn/1", to="@gated")


def _rollback_ready(sdk: Client) -> None:
    """Model 'rb' with two versions, @back moved 1 → 2: a rollback moves it to 1 (each call moves it to 2
    again first)."""
    try:
        sdk.get_model("rb")
    except ModelNotFound:
        with tempfile.TemporaryDirectory() as root:
            (Path(root) / "w.bin").write_bytes(b"w")
            sdk.push("rb", root)
            sdk.push("rb", root)
        sdk.set_alias("rb", "back", 1)
    sdk.set_alias("rb", "back", 2)


def _absent(sdk: Client, name: str) -> None:
    """Delete ``name`` if it exists, so that creating it succeeds (it is revived)."""
    with contextlib.suppress(ModelNotFound):
        sdk.delete_model(name)


MATRIX: dict[tuple[str, str], Case] = {
    ("GET", MODELS): Case("read", 200, MODELS),
    ("POST", MODELS): Case("write", 201, MODELS, {"name": "made"}, prepare=lambda sdk: _absent(sdk, "made")),
    ("POST", NAME + "/rename"): Case(
        "admin",
        200,
        MODELS + "/ren/rename",
        {"new_name": "ren2"},
        prepare=lambda sdk: sdk.create_model("ren"),
    ),
    ("DELETE", NAME + ""): Case("admin", 204, MODELS + "/gone", prepare=lambda sdk: sdk.create_model("gone")),
    ("GET", NAME + ""): Case("read", 200, MODELS + "/churn"),
    ("PATCH", NAME + ""): Case("write", 200, MODELS + "/churn", {"description": "d"}),
    ("PUT", NAME + "/tags/{key:path}"): Case("write", 200, MODELS + "/churn/tags/t", {"value": "v"}),
    ("DELETE", NAME + "/tags/{key:path}"): Case(
        "write", 204, MODELS + "/churn/tags/team", prepare=lambda sdk: sdk.set_tag("churn", "team", "a")
    ),
    ("GET", NAME + "/versions"): Case("read", 200, MODELS + "/churn/versions"),
    ("POST", NAME + "/versions"): Case("write", 201, MODELS + "/churn/versions", json="manifest"),
    ("GET", REF + ""): Case("read", 200, V1),
    ("PATCH", REF + ""): Case("write", 200, V1, {"description": "d"}),
    ("DELETE", REF + ""): Case(
        "admin",
        200,
        MODELS + "/churn/versions/latest",
        prepare=lambda sdk: sdk.set_stage("churn/1", "none"),
    ),
    ("PUT", REF + "/stage"): Case("write", 200, V1 + "/stage", {"stage": "staging"}),
    ("GET", REF + "/stages"): Case("read", 200, V1 + "/stages"),
    ("PUT", REF + "/hold"): Case("admin", 200, V1 + "/hold", {"reason": "case 17"}),
    ("DELETE", REF + "/hold"): Case(
        "admin", 204, V1 + "/hold", prepare=lambda sdk: sdk.set_hold("churn/1", reason="case 18")
    ),
    # churn/1 holds @champion: an allowed caller gets past authorisation to the protection (409).
    ("POST", REF + "/purge"): Case("admin", 409, V1 + "/purge"),
    ("POST", REF + "/chunks/urls"): Case("read", 200, V1 + "/chunks/urls", {"digests": ["{chunk}"]}),
    ("POST", REF + "/chunks/read"): Case("read", 200, V1 + "/chunks/read", {"chunks": "{chunk}"}),
    ("GET", "/api/v1/holds"): Case("read", 200, "/api/v1/holds"),
    ("GET", "/api/v1/retention"): Case("read", 200, "/api/v1/retention"),
    ("PUT", "/api/v1/retention"): Case("admin", 200, "/api/v1/retention", {"keep_last": 50}),
    ("DELETE", "/api/v1/retention"): Case(
        "admin", 204, "/api/v1/retention", prepare=lambda sdk: sdk.set_retention_policy(keep_last=60)
    ),
    ("PUT", NAME + "/retention"): Case("admin", 200, MODELS + "/churn/retention", {"archived_days": 30}),
    ("DELETE", NAME + "/retention"): Case(
        "admin",
        204,
        MODELS + "/churn/retention",
        prepare=lambda sdk: sdk.set_retention_policy("churn", archived_days=40),
    ),
    ("POST", "/api/v1/retention/apply"): Case("admin", 200, "/api/v1/retention/apply", {"apply": False}),
    ("GET", REF + "/resolve"): Case("read", 200, V1 + "/resolve?at=2999-01-01T00:00:00Z"),
    ("PUT", REF + "/tags/{key:path}"): Case("write", 200, V1 + "/tags/a/b", {"value": "v"}),
    ("DELETE", REF + "/tags/{key:path}"): Case(
        "write", 204, V1 + "/tags/k", prepare=lambda sdk: sdk.set_tag("churn/1", "k", "v")
    ),
    ("GET", REF + "/manifest"): Case("read", 200, V1 + "/manifest"),
    ("GET", REF + "/chunks/{digest}"): Case("read", 200, V1 + "/chunks/{chunk}"),
    ("GET", REF + "/files/{path:path}"): Case("read", 200, V1 + "/files/config.json"),
    ("HEAD", REF + "/files/{path:path}"): Case("read", 200, V1 + "/files/config.json"),
    ("GET", NAME + "/aliases/{alias}"): Case("read", 200, MODELS + "/churn/aliases/champion"),
    ("PUT", NAME + "/aliases/{alias}"): Case("write", 200, MODELS + "/churn/aliases/best", {"version": 1}),
    ("DELETE", NAME + "/aliases/{alias}"): Case(
        "write",
        204,
        MODELS + "/churn/aliases/temp",
        prepare=lambda sdk: sdk.set_alias("churn", "temp", 1),
    ),
    ("GET", NAME + "/aliases/{alias}/history"): Case("read", 200, MODELS + "/churn/aliases/champion/history"),
    ("POST", "/api/v1/search/versions"): Case(
        "read", 200, "/api/v1/search/versions", {"filter": "metrics.auc > 0"}
    ),
    ("POST", "/api/v1/search/models"): Case("read", 200, "/api/v1/search/models", {}),
    ("POST", "/api/v1/chunks/missing"): Case(
        "write", 200, "/api/v1/chunks/missing", {"digests": ["{chunk}"]}
    ),
    ("PUT", "/api/v1/chunks/{digest}"): Case("write", 200, "/api/v1/chunks/{chunk}", content="chunk"),
    ("POST", "/api/v1/chunks"): Case("write", 200, "/api/v1/chunks?chunk={chunk}:{size}", content="chunk"),
    ("POST", "/api/v1/files/known"): Case("write", 200, "/api/v1/files/known", {"digests": ["{file}"]}),
    ("POST", "/api/v1/tokens"): Case("admin", 201, "/api/v1/tokens", {"name": "api-made", "role": "viewer"}),
    ("GET", "/api/v1/tokens"): Case("admin", 200, "/api/v1/tokens"),
    ("DELETE", "/api/v1/tokens/{name}"): Case(
        "admin", 200, "/api/v1/tokens/temp", prepare=lambda sdk: sdk.create_token("temp", role="viewer")
    ),
    ("POST", ACCESS + "/users"): Case("admin", 201, ACCESS + "/users", {"name": "api-made"}),
    ("GET", ACCESS + "/users"): Case("admin", 200, ACCESS + "/users"),
    ("DELETE", ACCESS + "/users/{name}"): Case(
        "admin", 204, ACCESS + "/users/temp", prepare=lambda sdk: sdk.create_user("temp")
    ),
    ("POST", ACCESS + "/groups"): Case("admin", 201, ACCESS + "/groups", {"name": "api-made"}),
    ("GET", ACCESS + "/groups"): Case("admin", 200, ACCESS + "/groups"),
    ("DELETE", ACCESS + "/groups/{name}"): Case(
        "admin", 204, ACCESS + "/groups/temp", prepare=lambda sdk: sdk.create_group("temp")
    ),
    ("PUT", ACCESS + "/groups/{name}/members/{member}"): Case(
        "admin",
        200,
        ACCESS + "/groups/team/members/token:viewer",
        prepare=lambda sdk: sdk.create_group("team"),
    ),
    ("DELETE", ACCESS + "/groups/{name}/members/{member}"): Case(
        "admin",
        200,
        ACCESS + "/groups/team2/members/token:viewer",
        prepare=lambda sdk: (sdk.create_group("team2"), sdk.add_group_member("team2", "token:viewer")),
    ),
    ("POST", ACCESS + "/bindings"): Case(
        "admin", 200, ACCESS + "/bindings", {"role": "viewer", "principal": "token:viewer", "models": "a-*"}
    ),
    ("POST", ACCESS + "/bindings/revoke"): Case(
        "admin",
        204,
        ACCESS + "/bindings/revoke",
        {"role": "viewer", "principal": "token:viewer", "models": "b-*"},
        prepare=lambda sdk: sdk.grant("viewer", "token:viewer", models="b-*"),
    ),
    ("GET", ACCESS + "/bindings"): Case("admin", 200, ACCESS + "/bindings?principal=token:viewer"),
    ("POST", "/api/v1/admin/gc"): Case("admin", 200, "/api/v1/admin/gc", {"apply": False}),
    ("GET", "/api/v1/storage/stats"): Case("read", 200, "/api/v1/storage/stats?name=churn"),
    ("POST", "/api/v1/deployments"): Case(
        "write", 200, "/api/v1/deployments", {"ref": "churn/1", "environment": "prod-eu"}
    ),
    ("POST", "/api/v1/deployments/ended"): Case(
        "write",
        200,
        "/api/v1/deployments/ended",
        {"name": "churn", "environment": "staging-eu"},
        prepare=lambda sdk: sdk.record_deployment("churn/1", environment="staging-eu"),
    ),
    ("GET", "/api/v1/deployments"): Case("read", 200, "/api/v1/deployments?at=2030-01-01T00:00:00Z"),
    ("GET", "/api/v1/audit/events"): Case("admin", 200, "/api/v1/audit/events?action=registry:*"),
    ("GET", "/api/v1/audit/verify"): Case("admin", 200, "/api/v1/audit/verify"),
    # Promotion: a request's id comes from its ``prepare`` ("{request}"); "@gated" needs one approval.
    ("POST", PROMOTIONS): Case("write", 200, PROMOTIONS, {"ref": "churn/1", "to": "staging"}),
    ("GET", PROMOTIONS): Case("read", 200, PROMOTIONS + "?status=applied"),
    ("GET", PROMOTIONS + "/{request_id}"): Case("read", 200, PROMOTIONS + "/{request}", prepare=_pending),
    ("POST", PROMOTIONS + "/{request_id}/approve"): Case(
        "admin", 200, PROMOTIONS + "/{request}/approve", {"comment": "ok"}, prepare=_pending
    ),
    ("POST", PROMOTIONS + "/{request_id}/reject"): Case(
        "admin", 200, PROMOTIONS + "/{request}/reject", {}, prepare=_pending
    ),
    ("POST", PROMOTIONS + "/{request_id}/cancel"): Case(
        "write",
        200,
        PROMOTIONS + "/{request}/cancel",
        {},
        prepare=lambda sdk: _pending(sdk, "token:contributor"),
    ),
    ("POST", PROMOTIONS + "/rollback"): Case(
        "write", 200, PROMOTIONS + "/rollback", {"ref": "rb@back"}, prepare=_rollback_ready
    ),
    ("GET", "/api/v1/policy"): Case("read", 200, "/api/v1/policy"),
    ("PUT", "/api/v1/policy"): Case("admin", 200, "/api/v1/policy", {"text": GATED}),
    ("DELETE", "/api/v1/policy"): Case(
        "admin", 204, "/api/v1/policy", prepare=lambda sdk: sdk.set_policy(GATED)
    ),
    ("GET", "/healthz"): Case("public", 200, "/healthz"),
    ("GET", "/readyz"): Case("public", 200, "/readyz"),
    ("GET", "/metrics"): Case("public", 200, "/metrics"),
    ("GET", "/api/v1/openapi.json"): Case("public", 200, "/api/v1/openapi.json"),
    ("HEAD", "/api/v1/openapi.json"): Case("public", 200, "/api/v1/openapi.json"),
    ("GET", "/docs"): Case("public", 200, "/docs"),
    ("HEAD", "/docs"): Case("public", 200, "/docs"),
}


def route_table(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, full path) the app serves."""
    return {(method, path) for path, route in _flatten(app.routes) for method in route.methods or ()}


def _flatten(routes: Iterable[Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI keeps an included router whole
        if included is not None:
            # The prefix given when including it (a router's own prefix is already in its routes' paths).
            context = getattr(route, "include_context", None)
            yield from _flatten(included.routes, prefix + getattr(context, "prefix", ""))
        elif getattr(route, "methods", None):
            yield prefix + route.path, route


def test_the_matrix_covers_every_route(client: TestClient) -> None:
    # MLflow's surface has matrices of its own (tests/api/mlflow/test_*_auth.py): its errors take MLflow's
    # shape, and each of its routes is mounted twice (/api and the UI's /ajax-api).
    table = {(m, path) for m, path in route_table(client.app) if not is_mlflow_path(path)}  # type: ignore[arg-type]
    assert table - MATRIX.keys() == set(), "routes without an auth matrix entry"
    assert MATRIX.keys() - table == set(), "matrix entries for routes that do not exist"


def test_auth_matrix(client: TestClient, embedded: Client, seeded: ModelVersion, secrets: Secrets) -> None:
    values = _values(client, secrets["admin"], seeded)
    wrong: list[str] = []
    for (method, template), case in MATRIX.items():
        for caller in CALLERS:
            allowed = caller in ALLOWED[case.access]
            if allowed and case.prepare is not None:
                prepared = case.prepare(embedded)
                if isinstance(prepared, Promotion):
                    values["request"] = str(prepared.id)
            headers = {} if caller == "none" else bearer(secrets[caller])
            response = _call(client, method, case, values, headers)
            expected = case.success if allowed else 401 if caller in ("none", "revoked", "expired") else 403
            if response.status_code != expected:
                wrong.append(f"{method} {template} as {caller}: {response.status_code} ≠ {expected}")
            elif not allowed and method != "HEAD":  # a HEAD answer has no body to check
                code = "AUTHENTICATION_REQUIRED" if expected == 401 else "PERMISSION_DENIED"
                assert_error(response, expected, code)
    assert wrong == []


def _values(client: TestClient, admin: str, seeded: ModelVersion) -> dict[str, Any]:
    document = client.get(V1 + "/manifest", headers=bearer(admin)).json()["manifest"]
    chunk = document["files"][0]["chunks"][0][0]
    data = client.get(f"{V1}/chunks/{chunk}", headers=bearer(admin)).content
    return {"chunk": chunk, "file": seeded.files[0].digest, "bytes": data, "manifest": document}


def _call(
    client: TestClient, method: str, case: Case, values: dict[str, Any], headers: dict[str, str]
) -> Any:
    url = case.url.replace("{chunk}", values["chunk"]).replace("{request}", values.get("request", "1"))
    url = url.replace("{size}", str(len(values["bytes"])))
    body = case.json
    if body == "manifest":
        body = {"manifest": values["manifest"]}
    elif isinstance(body, dict) and body.get("chunks") == "{chunk}":
        body = {"chunks": [{"digest": values["chunk"], "size": len(values["bytes"])}]}
    elif isinstance(body, dict) and "digests" in body:
        body = {"digests": [values["chunk"] if d == "{chunk}" else values["file"] for d in body["digests"]]}
    content = values["bytes"] if case.content == "chunk" else None
    return client.request(method, url, json=body, content=content, headers=headers)


def test_anonymous_mode_lasts_only_while_no_token_exists(client: TestClient, seeded: ModelVersion) -> None:
    change = client.put(MODELS + "/churn/aliases/best", json={"version": 1})
    assert change.status_code == 200 and change.json()["set_by"] == "anonymous"
    created = client.post("/api/v1/tokens", json={"name": "first", "role": "admin"})
    assert created.status_code == 201
    secret = created.json()["secret"]
    assert secret.startswith("mrt_")
    # The first token closes anonymous access at once (a "no tokens" answer is never cached).
    assert_error(client.get(MODELS), 401, "AUTHENTICATION_REQUIRED")
    assert client.get(MODELS, headers=bearer(secret)).status_code == 200
    assert client.delete("/api/v1/tokens/first", headers=bearer(secret)).json() == {"revoked": 1}
    assert_error(client.get(MODELS, headers=bearer(secret)), 401, "AUTHENTICATION_REQUIRED")


ANY_ADDRESS = "0.0.0.0"  # noqa: S104 - not bound: only the app's anonymous policy for such a server


@pytest.mark.parametrize(("insecure", "status"), [(False, 401), (True, 200)])
def test_anonymous_access_is_for_loopback_or_insecure_servers(
    make_app: Callable[..., FastAPI], insecure: bool, status: int
) -> None:
    with TestClient(make_app(host=ANY_ADDRESS, insecure=insecure)) as test_client:
        assert test_client.get(MODELS).status_code == status
        assert test_client.get("/healthz").status_code == 200


def test_the_actor_is_the_token(client: TestClient, seeded: ModelVersion, secrets: Secrets) -> None:
    change = client.put(
        MODELS + "/churn/aliases/best", json={"version": 1}, headers=bearer(secrets["contributor"])
    )
    assert change.json()["set_by"] == "token:contributor"
    denied = assert_error(client.delete(V1, headers=bearer(secrets["contributor"])), 403, "PERMISSION_DENIED")
    assert denied["details"] == {"permission": "version:delete", "role": "contributor", "model": "churn"}


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_basic_credentials_carry_a_token(client: TestClient, seeded: ModelVersion, secrets: Secrets) -> None:
    """What MLflow's client sends for MLFLOW_TRACKING_USERNAME/PASSWORD works on every route: the password is
    the token, and only the token names the caller (the user name is ignored)."""
    change = client.put(
        MODELS + "/churn/aliases/best", json={"version": 1}, headers=_basic("admin", secrets["contributor"])
    )
    assert change.status_code == 200 and change.json()["set_by"] == "token:contributor"
    denied = client.delete(V1, headers=_basic("admin", secrets["contributor"]))
    assert_error(denied, 403, "PERMISSION_DENIED")
    for headers in (
        _basic("admin", "mrt_not-a-token"),
        _basic("admin", ""),
        _basic("admin", secrets["revoked"]),
        {"Authorization": "Basic %%%"},
        {"Authorization": "Basic " + base64.b64encode(b"no colon").decode()},
        {"Authorization": "Basic " + base64.b64encode(b"\xff:\xfe").decode()},
    ):
        assert_error(client.get(MODELS, headers=headers), 401, "AUTHENTICATION_REQUIRED")
    assert client.get(MODELS, headers=_basic("", secrets["viewer"])).status_code == 200
