"""The model lifecycle routes over real HTTP semantics: create (201), rename, delete (204), and a commit
under an explicit number; the one error shape for every refusal, and who may call."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from modelreg.client.client import Client
from modelreg.types import ModelVersion
from tests.api.conftest import Secrets, assert_error, bearer

MODELS = "/api/v1/models"


def test_create_answers_201_with_the_model(client: TestClient) -> None:
    response = client.post(MODELS, json={"name": "churn", "description": "d", "tags": {"team": "risk"}})
    assert response.status_code == 201
    body = response.json()
    assert {k: body[k] for k in ("name", "description", "tags", "latest_version", "aliases")} == {
        "name": "churn",
        "description": "d",
        "tags": {"team": "risk"},
        "latest_version": None,
        "aliases": {},
    }
    assert body["created_by"] == "anonymous"
    assert client.get(MODELS + "/churn").json() == body
    assert client.post(MODELS, json={"name": "bare"}).json()["description"] == ""
    error = assert_error(client.post(MODELS, json={"name": "churn"}), 409, "MODEL_ALREADY_EXISTS")
    assert error["message"] == "model 'churn' already exists"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"name": "a b"}, 400, "INVALID_NAME"),
        ({"name": 5}, 400, "INVALID_NAME"),
        ({"name": None}, 400, "INVALID_NAME"),
        ({"name": "ok", "description": ["x"]}, 400, "INVALID_METADATA"),
        ({"name": "ok", "tags": {"k": 1}}, 400, "INVALID_METADATA"),
        ({"name": "ok", "tags": "k=v"}, 400, "INVALID_METADATA"),
        ({"name": "ok", "colour": "red"}, 400, "INVALID_INPUT"),
        ({}, 400, "INVALID_INPUT"),
        ([], 400, "INVALID_INPUT"),
    ],
)
def test_create_refuses_bad_bodies(client: TestClient, body: Any, status: int, code: str) -> None:
    assert_error(client.post(MODELS, json=body), status, code)
    assert client.get(MODELS).json()["items"] == []


def test_rename_and_delete(client: TestClient, embedded: Client, seeded: ModelVersion) -> None:
    renamed = client.post(MODELS + "/churn/rename", json={"new_name": "churn-v2"})
    assert renamed.status_code == 200
    assert (renamed.json()["name"], renamed.json()["aliases"]) == ("churn-v2", {"champion": 1})
    assert client.get(MODELS + "/churn-v2/versions/@champion").json()["version"] == 1
    assert_error(client.get(MODELS + "/churn"), 404, "MODEL_NOT_FOUND")
    for path, body, status, code in (
        ("/churn/rename", {"new_name": "x"}, 404, "MODEL_NOT_FOUND"),
        ("/churn-v2/rename", {"new_name": "churn-v2"}, 409, "MODEL_ALREADY_EXISTS"),
        ("/churn-v2/rename", {"new_name": "a/b"}, 400, "INVALID_NAME"),
        ("/churn-v2/rename", {"new_name": 7}, 400, "INVALID_NAME"),
        ("/churn-v2/rename", {}, 400, "INVALID_INPUT"),
        ("/churn-v2/rename", {"new_name": "x", "also": 1}, 400, "INVALID_INPUT"),
        ("/a%20b/rename", {"new_name": "x"}, 400, "INVALID_NAME"),
    ):
        assert_error(client.post(MODELS + path, json=body), status, code)
    embedded.set_hold("churn-v2/1", reason="case 3")
    error = assert_error(client.delete(MODELS + "/churn-v2"), 409, "VERSION_PROTECTED")
    assert error["details"] == {"reasons": ["hold"], "versions": [1]}
    embedded.remove_hold("churn-v2/1")
    deleted = client.delete(MODELS + "/churn-v2")
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert_error(client.get(MODELS + "/churn-v2"), 404, "MODEL_NOT_FOUND")
    assert_error(client.get(MODELS + "/churn-v2/versions/1"), 404, "MODEL_NOT_FOUND")
    assert_error(client.delete(MODELS + "/churn-v2"), 404, "MODEL_NOT_FOUND")
    assert_error(client.delete(MODELS + "/a%20b"), 400, "INVALID_NAME")
    assert client.get(MODELS).json()["items"] == []
    revived = client.post(MODELS, json={"name": "churn-v2"})
    assert (revived.status_code, revived.json()["latest_version"]) == (201, None)
    # The collection itself still takes no DELETE.
    assert_error(client.delete(MODELS), 405, "METHOD_NOT_ALLOWED")


def test_commit_under_an_explicit_number(client: TestClient, seeded: ModelVersion) -> None:
    document = client.get(MODELS + "/churn/versions/1/manifest").json()["manifest"]
    committed = client.post(MODELS + "/churn/versions", json={"manifest": document, "version": 40})
    assert (committed.status_code, committed.json()["version"]) == (201, 40)
    for version, status, code in (
        (40, 409, "VERSION_EXISTS"),
        (2, 409, "VERSION_EXISTS"),
        (0, 400, "INVALID_INPUT"),
        ("41", 400, "INVALID_INPUT"),
        (2**40, 400, "INVALID_INPUT"),
    ):
        body = {"manifest": document, "version": version}
        error = assert_error(client.post(MODELS + "/churn/versions", json=body), status, code)
        if code == "VERSION_EXISTS":
            assert error["details"] == {"version": version, "last_version": 40}
    nulled = client.post(MODELS + "/churn/versions", json={"manifest": document, "version": None})
    assert nulled.json()["version"] == 41
    listed = client.get(MODELS + "/churn/versions").json()["items"]
    assert [v["version"] for v in listed] == [41, 40, 1]


def test_who_may_call(client: TestClient, secrets: Secrets, seeded: ModelVersion) -> None:
    viewer, contributor, admin = (bearer(secrets[role]) for role in ("viewer", "contributor", "admin"))
    document = client.get(MODELS + "/churn/versions/1/manifest", headers=viewer).json()["manifest"]
    for headers in (viewer, contributor):
        for method, path, body in (
            ("POST", "/churn/rename", {"new_name": "x"}),
            ("DELETE", "/churn", None),
            ("POST", "/churn/versions", {"manifest": document, "version": 9}),
        ):
            assert_error(
                client.request(method, MODELS + path, json=body, headers=headers), 403, "PERMISSION_DENIED"
            )
    assert_error(client.post(MODELS, json={"name": "v"}, headers=viewer), 403, "PERMISSION_DENIED")
    assert_error(client.post(MODELS, json={"name": "c"}), 401, "AUTHENTICATION_REQUIRED")
    made = client.post(MODELS, json={"name": "c"}, headers=contributor)
    assert (made.status_code, made.json()["created_by"]) == (201, "token:contributor")
    assert client.post(MODELS + "/c/rename", json={"new_name": "d"}, headers=admin).json()["name"] == "d"
    assert client.delete(MODELS + "/d", headers=admin).status_code == 204
    imported = client.post(
        MODELS + "/churn/versions", json={"manifest": document, "version": 9}, headers=admin
    )
    assert imported.json()["version"] == 9
    assert [m["name"] for m in client.get(MODELS, headers=viewer).json()["items"]] == ["churn"]
