"""The promotion routes over raw HTTP: bad input is a 400 with a stable code (never a 500) and changes
nothing; the server's policy file (MODELREG_POLICY_FILE) is read at start and wins over the stored policy."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from modelreg import errors
from modelreg.client.client import Client
from modelreg.types import ModelVersion
from tests.api.conftest import assert_error

P = "/api/v1/promotions"


@pytest.mark.parametrize(
    "case",
    [
        ("POST", P, {"ref": "churn/1"}, 400, "INVALID_INPUT"),  # no target
        ("POST", P, {"ref": "churn/1", "to": ["production"]}, 400, "INVALID_INPUT"),
        ("POST", P, {"ref": "churn/1", "to": "production", "extra": 1}, 400, "INVALID_INPUT"),
        ("POST", P, {"ref": 1, "to": "production"}, 400, "INVALID_INPUT"),
        ("POST", P, {"ref": "churn/1", "to": "production", "comment": 5}, 400, "INVALID_INPUT"),
        ("POST", P, {"ref": "churn/1", "to": "@sha256"}, 400, "INVALID_INPUT"),
        ("POST", P + "/abc/approve", {}, 400, "INVALID_INPUT"),
        ("POST", P + "/0/approve", {}, 400, "INVALID_INPUT"),
        ("POST", P + "/99999999999999999999999/reject", {}, 400, "INVALID_INPUT"),
        ("POST", P + "/41/cancel", {}, 404, "PROMOTION_NOT_FOUND"),
        ("GET", P + "/41", None, 404, "PROMOTION_NOT_FOUND"),
        ("GET", P + "?status=open", None, 400, "INVALID_INPUT"),
        ("GET", P + "?limit=0", None, 400, "INVALID_INPUT"),
        ("POST", P + "/rollback", {"ref": "churn@champion", "emergency": "yes"}, 400, "INVALID_INPUT"),
        ("POST", P + "/rollback", {"ref": "churn/1"}, 400, "INVALID_REFERENCE"),
        ("PUT", "/api/v1/policy", {"text": 3}, 400, "INVALID_POLICY"),
        ("PUT", "/api/v1/policy", {"text": "[[rule]]\nwho = 1\n"}, 400, "INVALID_POLICY"),
        ("PUT", "/api/v1/policy", {}, 400, "INVALID_INPUT"),
        ("DELETE", "/api/v1/policy", None, 404, "POLICY_NOT_FOUND"),
    ],
)
def test_bad_input_is_refused_with_a_stable_code(
    client: TestClient, embedded: Client, seeded: ModelVersion, case: tuple[str, str, Any, int, str]
) -> None:
    method, url, body, status, code = case
    before = [e.seq for e in embedded.audit_events(limit=1000)]
    assert_error(client.request(method, url, json=body), status, code)
    assert [e.seq for e in embedded.audit_events(limit=1000)] == before
    assert embedded.list_promotions() == []


def test_a_policy_file_is_read_at_start_and_wins(
    make_app: Callable[..., FastAPI], embedded: Client, seeded: ModelVersion, tmp_path: Path
) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('[[rule]]\ntarget = "@champion"\napprovals = 1\n')
    with TestClient(make_app(policy_file=path)) as client:
        shown = client.get("/api/v1/policy").json()
        assert (shown["source"], shown["rules"], shown["text"]) == ("file", 1, path.read_text())
        assert_error(client.put("/api/v1/policy", json={"text": ""}), 409, "POLICY_FROM_FILE")
        refused = client.put("/api/v1/models/churn/aliases/champion", json={"version": 1})
        assert "request_promotion" in assert_error(refused, 403, "PERMISSION_DENIED")["message"]
        pending = client.post(P, json={"ref": "churn/1", "to": "@champion", "comment": "again"}).json()
        assert (pending["status"], pending["approvals_required"]) == ("pending", 1)
    path.write_text("[[rule]]\napprovals = lots\n")
    with pytest.raises(errors.InvalidPolicy, match="line 2"):
        make_app(policy_file=path)
