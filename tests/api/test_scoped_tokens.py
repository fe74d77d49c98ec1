"""Access control over HTTP with real tokens: a token that acts as user 'bob', whose only rights come from
his group's binding on ``risk-*``. The authorisation matrix (tests/contracts/test_access_control.py) runs
through the HTTP SDK against the real app (real authentication, no dependency override), and the access
management routes answer with stable codes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from modelreg.client.client import Client
from modelreg.client.http import HttpBackend
from modelreg.transfer.cache import ChunkCache
from tests.api.conftest import assert_error, bearer
from tests.conftest import _InProcess
from tests.contracts.test_access_control import ROLE_NAMES, run_matrix, seed


@pytest.fixture
def app_client(make_app: Callable[..., FastAPI]) -> Iterator[TestClient]:
    with TestClient(make_app(), base_url="http://testserver") as test_client:
        yield test_client


@contextlib.contextmanager
def http_sdk(app_client: TestClient, secret: str, cache: Path) -> Iterator[Client]:
    with httpx.Client(transport=_InProcess(app_client)) as http:
        backend = HttpBackend("http://testserver", token=secret, client=http, retries=0)
        yield Client(backend, cache=ChunkCache(cache), location="http://testserver")


def _bob_token(embedded: Client, role: str) -> str:
    """User bob in group risk-team, which holds ``role`` on risk-*; a token acting as bob, role none."""
    embedded.create_user("bob")
    embedded.create_group("risk-team")
    embedded.add_group_member("risk-team", "user:bob")
    embedded.grant(role, "group:risk-team", models="risk-*")
    embedded.grant("viewer", "user:bob", models="risk-*")  # for the matrix's refused revoke
    secret = embedded.create_token("bob-ci", role="none", user="bob").secret
    assert secret is not None
    return secret


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_authorisation_matrix_over_http(
    app_client: TestClient, embedded: Client, tmp_path: Path, role: str
) -> None:
    seed(embedded, tmp_path)
    secret = _bob_token(embedded, role)
    with http_sdk(app_client, secret, tmp_path / "cache") as bob:
        wrong = run_matrix(embedded, bob, role, tmp_path)
    assert wrong == []
    # The token acts as bob: the audit trail names the person, never the token.
    actors = {event.actor for event in embedded.audit_events(limit=1000).items}
    assert "token:bob-ci" not in actors
    assert ("bob" in actors) == (role not in {"viewer", "approver"})


def test_scoped_listing_and_refusal_over_http(
    app_client: TestClient, embedded: Client, tmp_path: Path
) -> None:
    seed(embedded, tmp_path)
    secret = _bob_token(embedded, "viewer")
    listed = app_client.get("/api/v1/models", headers=bearer(secret))
    assert listed.status_code == 200 and [m["name"] for m in listed.json()["items"]] == ["risk-a"]
    searched = app_client.post("/api/v1/search/versions", json={}, headers=bearer(secret))
    assert [v["name"] for v in searched.json()["items"]] == ["risk-a"]
    error = assert_error(
        app_client.get("/api/v1/models/ops-b", headers=bearer(secret)), 403, "PERMISSION_DENIED"
    )
    assert error["details"] == {"permission": "model:read", "role": "none", "model": "ops-b"}
    assert_error(
        app_client.get("/api/v1/models/ops-missing", headers=bearer(secret)), 403, "PERMISSION_DENIED"
    )
    assert_error(
        app_client.get("/api/v1/models/risk-missing", headers=bearer(secret)), 404, "MODEL_NOT_FOUND"
    )
    assert_error(app_client.get("/api/v1/access/users", headers=bearer(secret)), 403, "PERMISSION_DENIED")
    # Listings across models: only risk-a's entries (and the global retention policy).
    for ref in ("risk-a/1", "ops-b/1"):
        embedded.set_hold(ref)
        embedded.request_promotion(ref, to="staging")
    embedded.set_retention_policy(keep_last=9)
    embedded.set_retention_policy("ops-b", keep_last=3)
    holds = app_client.get("/api/v1/holds", headers=bearer(secret)).json()["items"]
    assert [(h["name"], h["version"]) for h in holds] == [("risk-a", 1)]
    policies = app_client.get("/api/v1/retention", headers=bearer(secret)).json()["items"]
    assert [(p["name"], p["keep_last"]) for p in policies] == [(None, 9)]
    requests = app_client.get("/api/v1/promotions", headers=bearer(secret)).json()["items"]
    assert [(r["name"], r["status"]) for r in requests] == [("risk-a", "applied")]
    assert app_client.get("/api/v1/policy", headers=bearer(secret)).json()["source"] == "default"
    assert_error(
        app_client.get("/api/v1/holds", params={"name": "ops-b"}, headers=bearer(secret)),
        403,
        "PERMISSION_DENIED",
    )


def test_deleting_the_user_revokes_its_tokens(
    app_client: TestClient, embedded: Client, tmp_path: Path
) -> None:
    seed(embedded, tmp_path)
    secret = _bob_token(embedded, "viewer")
    assert app_client.get("/api/v1/models/risk-a", headers=bearer(secret)).status_code == 200
    embedded.delete_user("bob")
    assert_error(
        app_client.get("/api/v1/models/risk-a", headers=bearer(secret)), 401, "AUTHENTICATION_REQUIRED"
    )
    assert [t.revoked_at is not None for t in embedded.list_tokens()] == [True]
    assert embedded.list_bindings("user:bob") == [] and embedded.list_groups()[0].members == ()


def test_access_management_routes(app_client: TestClient, embedded: Client) -> None:
    admin = bearer(embedded.create_token("root", role="admin").secret or "")
    made = app_client.post("/api/v1/access/users", json={"name": "carol@example.com"}, headers=admin)
    assert made.status_code == 201 and made.json()["name"] == "carol@example.com"
    assert (
        app_client.post("/api/v1/access/groups", json={"name": "risk-team"}, headers=admin).status_code == 201
    )
    member = app_client.put("/api/v1/access/groups/risk-team/members/user:carol@example.com", headers=admin)
    assert member.status_code == 200 and member.json()["members"] == ["user:carol@example.com"]
    bound = app_client.post(
        "/api/v1/access/bindings",
        json={"role": "contributor", "principal": "group:risk-team", "models": "risk-*"},
        headers=admin,
    )
    assert bound.status_code == 200 and bound.json()["models"] == "risk-*"
    for body, status, code in (
        ({"role": "contributor", "principal": "group:risk-team", "models": "risk["}, 400, "INVALID_INPUT"),
        ({"role": "owner", "principal": "group:risk-team"}, 400, "INVALID_INPUT"),
        ({"role": "viewer", "principal": "group:nobody"}, 404, "PRINCIPAL_NOT_FOUND"),
        ({"role": "viewer", "principal": "team:x"}, 400, "INVALID_INPUT"),
        ({"role": "viewer", "principal": ["user:x"]}, 400, "INVALID_INPUT"),
    ):
        assert_error(app_client.post("/api/v1/access/bindings", json=body, headers=admin), status, code)
    revoke = {"role": "viewer", "principal": "group:risk-team", "models": "risk-*"}
    assert_error(
        app_client.post("/api/v1/access/bindings/revoke", json=revoke, headers=admin),
        404,
        "ROLE_BINDING_NOT_FOUND",
    )
    assert_error(
        app_client.post("/api/v1/access/users", json={"name": "carol@example.com"}, headers=admin),
        409,
        "PRINCIPAL_ALREADY_EXISTS",
    )
    assert_error(app_client.delete("/api/v1/access/users/nobody", headers=admin), 404, "PRINCIPAL_NOT_FOUND")
    assert_error(
        app_client.put("/api/v1/access/groups/risk-team/members/group:risk-team", headers=admin),
        400,
        "INVALID_INPUT",
    )
    listed = app_client.get("/api/v1/access/bindings", params={"principal": "group:risk-team"}, headers=admin)
    assert [(b["role"], b["models"]) for b in listed.json()["items"]] == [("contributor", "risk-*")]
    revoke["role"] = "contributor"
    assert app_client.post("/api/v1/access/bindings/revoke", json=revoke, headers=admin).status_code == 204
    assert app_client.delete("/api/v1/access/groups/risk-team", headers=admin).status_code == 204
    assert app_client.get("/api/v1/access/groups", headers=admin).json() == {"items": []}
    users = app_client.get("/api/v1/access/users", headers=admin).json()["items"]
    assert [(u["name"], u["groups"]) for u in users] == [("carol@example.com", [])]
