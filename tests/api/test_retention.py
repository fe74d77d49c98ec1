"""The retention routes over real HTTP semantics: status codes, the error shape, bodies, and who may call."""

from __future__ import annotations

from fastapi.testclient import TestClient

from modelreg.client.client import Client
from modelreg.types import ModelVersion
from tests.api.conftest import Secrets, assert_error, bearer

VERSION = "/api/v1/models/churn/versions/{ref}"


def test_a_purged_version_answers_410_everywhere_its_content_is(
    client: TestClient, embedded: Client, seeded: ModelVersion
) -> None:
    embedded.delete_alias("churn", "champion")
    response = client.post(VERSION.format(ref="1") + "/purge")
    assert response.status_code == 200 and response.json()["purged"] is True
    chunk = seeded.files[0].digest
    for path in ("/files/weights.bin", "/manifest", f"/chunks/{chunk}"):
        error = assert_error(client.get(VERSION.format(ref="1") + path), 410, "VERSION_PURGED")
        assert error["message"] == "version 1 of model 'churn' is purged: its files are gone"
    assert client.get(VERSION.format(ref="1")).json()["purged_at"] is not None  # metadata stays
    assert_error(client.post(VERSION.format(ref="1") + "/purge"), 410, "VERSION_PURGED")


def test_protected_versions_answer_409_with_the_reasons(
    client: TestClient, embedded: Client, seeded: ModelVersion
) -> None:
    embedded.set_stage("churn/1", "production")
    response = client.put(VERSION.format(ref="@champion") + "/hold", json={"reason": "case 9"})
    assert response.status_code == 200
    assert {k: response.json()[k] for k in ("name", "version", "reason")} == {
        "name": "churn",
        "version": 1,
        "reason": "case 9",
    }
    error = assert_error(client.post(VERSION.format(ref="1") + "/purge"), 409, "VERSION_PROTECTED")
    assert error["details"] == {"reasons": ["alias:champion", "production", "hold"]}
    assert_error(client.delete(VERSION.format(ref="1")), 409, "VERSION_PROTECTED")
    assert client.get("/api/v1/holds", params={"name": "churn"}).json()["items"][0]["reason"] == "case 9"
    assert client.delete(VERSION.format(ref="1") + "/hold").status_code == 204
    assert_error(client.delete(VERSION.format(ref="1") + "/hold"), 404, "HOLD_NOT_FOUND")


def test_policies_round_trip_and_bad_bodies_are_400(client: TestClient, seeded: ModelVersion) -> None:
    response = client.put("/api/v1/retention", json={"keep_last": 3, "deleted_days": 30})
    assert response.status_code == 200 and response.json()["name"] is None
    assert response.json()["deleted_days"] == 30
    response = client.put("/api/v1/models/churn/retention", json={"archived_days": 7})
    assert (response.json()["name"], response.json()["archived_days"]) == ("churn", 7)
    listed = client.get("/api/v1/retention").json()["items"]
    assert [(p["name"], p["keep_last"], p["archived_days"], p["deleted_days"]) for p in listed] == [
        (None, 3, None, 30),
        ("churn", None, 7, None),
    ]
    report = client.post("/api/v1/retention/apply", json={}).json()
    assert report == {"applied": False, "purge": [], "protected": []}
    for method, path, body, code in (
        ("PUT", "/api/v1/retention", {"keep_last": "3"}, "INVALID_INPUT"),
        ("PUT", "/api/v1/retention", {"keep_last": 3, "extra": 1}, "INVALID_INPUT"),
        ("PUT", "/api/v1/retention", {"deleted_days": -1}, "INVALID_INPUT"),
        ("PUT", "/api/v1/models/nope/retention", {"keep_last": 3}, "MODEL_NOT_FOUND"),
        ("POST", "/api/v1/retention/apply", {"apply": "yes"}, "INVALID_INPUT"),
        ("POST", "/api/v1/retention/apply", {"name": "a b"}, "INVALID_NAME"),
        ("PUT", VERSION.format(ref="1") + "/hold", {"reason": ["x"]}, "INVALID_INPUT"),
        ("PUT", VERSION.format(ref="x y") + "/hold", {}, "INVALID_REFERENCE"),
    ):
        status = 404 if code == "MODEL_NOT_FOUND" else 400
        assert_error(client.request(method, path, json=body), status, code)
    assert_error(client.get("/api/v1/holds", params={"name": "../x"}), 400, "INVALID_NAME")
    assert [p["name"] for p in client.get("/api/v1/retention").json()["items"]] == [None, "churn"]
    assert client.delete("/api/v1/models/churn/retention").status_code == 204
    assert client.delete("/api/v1/retention").status_code == 204
    assert_error(client.delete("/api/v1/retention"), 404, "RETENTION_POLICY_NOT_FOUND")


def test_only_admin_tokens_change_retention(
    client: TestClient, secrets: Secrets, seeded: ModelVersion
) -> None:
    for role in ("viewer", "contributor"):
        headers = bearer(secrets[role])
        for method, path, body in (
            ("PUT", VERSION.format(ref="1") + "/hold", {"reason": ""}),
            ("POST", VERSION.format(ref="1") + "/purge", None),
            ("PUT", "/api/v1/retention", {"keep_last": 1}),
            ("POST", "/api/v1/retention/apply", {}),
        ):
            assert_error(client.request(method, path, json=body, headers=headers), 403, "PERMISSION_DENIED")
        assert client.get("/api/v1/holds", headers=headers).json() == {"items": []}
    admin = bearer(secrets["admin"])
    assert client.put(VERSION.format(ref="1") + "/hold", json={}, headers=admin).status_code == 200
