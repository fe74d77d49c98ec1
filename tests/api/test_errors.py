"""Bad input over HTTP gets the one error shape with the right code and status, never a 500 (invariant 6)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from modelreg.client.client import Client
from modelreg.types import ModelVersion
from tests.api.conftest import assert_error, sha256

VERSIONS = "/api/v1/models/churn/versions"


def test_malformed_json_is_invalid_input(client: TestClient) -> None:
    response = client.post(
        "/api/v1/search/versions", content=b'{"filter": ', headers={"Content-Type": "application/json"}
    )
    error = assert_error(response, 400, "INVALID_INPUT")
    assert error["details"]["errors"][0]["loc"][0] == "body"


# Wire types are the API's (400 INVALID_INPUT naming the field); use-case arguments are the registry's, so
# the HTTP SDK gets the error the embedded SDK gets (here INVALID_METADATA).
WRONG_TYPES = [
    ("PUT", "/api/v1/models/churn/aliases/champion", {"version": "1"}, "INVALID_INPUT", "version"),
    ("PUT", "/api/v1/models/churn/aliases/champion", {"version": True}, "INVALID_INPUT", "version"),
    ("PUT", "/api/v1/models/churn/aliases/champion", {"version": 2**40}, "INVALID_INPUT", "version"),
    ("POST", "/api/v1/search/versions", {"limit": "ten"}, "INVALID_INPUT", "limit"),
    ("POST", "/api/v1/search/models", {"filter": None, "colour": "red"}, "INVALID_INPUT", "colour"),
    ("POST", "/api/v1/chunks/missing", {"digests": "sha256:00"}, "INVALID_INPUT", "digests"),
    ("POST", "/api/v1/tokens", {"name": "ci", "role": ["admin"]}, "INVALID_INPUT", "role"),
    (
        "POST",
        "/api/v1/tokens",
        {"name": "ci", "role": "viewer", "expires_at": "soon"},
        "INVALID_INPUT",
        "expires_at",
    ),
    ("POST", VERSIONS, {"manifest": {"schema": 2, "files": []}}, "INVALID_INPUT", "schema"),
    ("GET", f"{VERSIONS}?limit=many", None, "INVALID_INPUT", "limit"),
    ("PATCH", "/api/v1/models/churn", {"description": 5}, "INVALID_METADATA", None),
    ("PUT", "/api/v1/models/churn/tags/k", {"value": ["v"]}, "INVALID_METADATA", None),
    ("PUT", f"{VERSIONS}/1/stage", {"stage": "live"}, "INVALID_METADATA", None),
]


def test_wrong_types_give_the_field_or_the_registry_error(client: TestClient, seeded: ModelVersion) -> None:
    manifest = client.get(f"{VERSIONS}/1/manifest").json()["manifest"]
    commits = [{"lineage": "run-1"}, {"signature": ["not", "a", "mapping"]}, {"metrics": {"auc": "high"}}]
    cases = [
        *WRONG_TYPES,
        *(("POST", VERSIONS, {"manifest": manifest, **c}, "INVALID_METADATA", None) for c in commits),
    ]
    for method, path, body, code, field in cases:
        error = assert_error(client.request(method, path, json=body), 400, code)
        if field is not None:
            assert field in error["details"]["errors"][0]["loc"], (path, body)
            assert field in error["message"]
    versions = client.get(VERSIONS).json()["items"]
    assert [(v["version"], v["aliases"], v["stage"]) for v in versions] == [(1, ["champion"], "none")]


def test_unknown_route_and_wrong_method(client: TestClient) -> None:
    assert_error(client.get("/api/v1/nothing/here"), 404, "NOT_FOUND")
    assert_error(client.get("/favicon.ico"), 404, "NOT_FOUND")
    response = client.delete("/api/v1/models")
    error = assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert response.headers["allow"] == "GET" and "DELETE" in error["message"]


@pytest.fixture
def small_client(make_app: Callable[..., FastAPI]) -> Iterator[TestClient]:
    with TestClient(make_app(max_json_bytes=1024, max_chunk_bytes=2048)) as test_client:
        yield test_client


def test_json_body_over_the_limit_is_413_by_content_length(small_client: TestClient) -> None:
    body = b'{"filter": "' + b"x" * 2000 + b'"}'
    response = small_client.post(
        "/api/v1/search/models", content=body, headers={"Content-Type": "application/json"}
    )
    error = assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert error["details"] == {"limit": 1024}


def test_streamed_body_over_the_limit_is_413_while_reading(small_client: TestClient) -> None:
    def parts() -> Iterator[bytes]:  # no Content-Length: chunked transfer encoding
        yield b'{"filter": "'
        for _ in range(10):
            yield b"x" * 200
        yield b'"}'

    response = small_client.post(
        "/api/v1/search/models", content=parts(), headers={"Content-Type": "application/json"}
    )
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")


def test_chunk_over_the_limit_is_413_and_not_stored(small_client: TestClient) -> None:
    data = b"c" * 4096
    assert_error(small_client.put(f"/api/v1/chunks/{sha256(data)}", content=data), 413, "PAYLOAD_TOO_LARGE")
    missing = small_client.post("/api/v1/chunks/missing", json={"digests": [sha256(data)]}).json()
    assert missing == {"missing": [sha256(data)]}
    # The chunk limit is the chunk route's own: a 1.5 KiB chunk passes although JSON is capped at 1 KiB.
    small = b"s" * 1536
    assert small_client.put(f"/api/v1/chunks/{sha256(small)}", content=small).status_code == 201


def test_a_chunk_batch_over_the_chunk_limit_is_413_and_stores_nothing(small_client: TestClient) -> None:
    parts = [b"a" * 1500, b"b" * 1500]  # each within the 2 KiB chunk limit, together over it
    named = [f"{sha256(part)}:{len(part)}" for part in parts]
    response = small_client.post("/api/v1/chunks", params={"chunk": named}, content=b"".join(parts))
    assert assert_error(response, 413, "PAYLOAD_TOO_LARGE")["details"] == {"limit": 2048}
    digests = [sha256(part) for part in parts]
    missing = small_client.post("/api/v1/chunks/missing", json={"digests": digests})
    assert missing.json() == {"missing": digests}
    alone = small_client.post("/api/v1/chunks", params={"chunk": named[:1]}, content=parts[0])
    assert (alone.status_code, alone.json()) == (200, {"stored": [True]})


def test_too_many_digests_in_one_request_is_413(client: TestClient) -> None:
    digests = [sha256(str(n).encode()) for n in range(10_001)]
    assert_error(client.post("/api/v1/chunks/missing", json={"digests": digests}), 413, "PAYLOAD_TOO_LARGE")
    assert_error(client.post("/api/v1/files/known", json={"digests": digests}), 413, "PAYLOAD_TOO_LARGE")


def test_traversal_in_file_paths_is_invalid_path(client: TestClient, seeded: ModelVersion) -> None:
    raw_paths = [
        "%2e%2e/%2e%2e/etc/passwd",  # encoded '..': decoded by the server, refused by the path rules
        "sub/%2E%2E/%2E%2E/etc/passwd",
        "/etc/passwd",  # absolute: files//etc/passwd
        "a%5Cb",  # a backslash
        "a%00b",  # NUL
        "sub//vocab.txt",  # an empty segment
    ]
    for raw_path in raw_paths:
        assert_error(client.get(f"{VERSIONS}/1/files/{raw_path}"), 400, "INVALID_PATH")


def test_traversal_in_a_committed_manifest_stores_nothing(client: TestClient) -> None:
    data = b"payload"
    assert client.put(f"/api/v1/chunks/{sha256(data)}", content=data).status_code == 201
    entry = {"path": "../escape", "size": len(data), "digest": sha256(data), "chunks": [[sha256(data), 7]]}
    response = client.post("/api/v1/models/evil/versions", json={"manifest": {"schema": 1, "files": [entry]}})
    assert_error(response, 400, "INVALID_PATH")
    assert_error(client.get("/api/v1/models/evil"), 404, "MODEL_NOT_FOUND")


def test_bad_version_selectors(client: TestClient, seeded: ModelVersion) -> None:
    for ref in ("abc", "0", "99999999999", "@", "@bad alias", "@sha256:xyz", "-1"):
        assert_error(client.get(f"{VERSIONS}/{ref}"), 400, "INVALID_REFERENCE")


def test_bad_names_and_missing_things(client: TestClient, seeded: ModelVersion) -> None:
    assert_error(client.get("/api/v1/models/bad name"), 400, "INVALID_NAME")
    # A reference where a model name belongs must not turn a model change into a version change.
    assert_error(
        client.patch("/api/v1/models/churn@champion", json={"description": "x"}), 400, "INVALID_NAME"
    )
    assert client.get(f"{VERSIONS}/1").json()["description"] == ""
    assert_error(client.get("/api/v1/models/nobody"), 404, "MODEL_NOT_FOUND")
    assert_error(client.get(f"{VERSIONS}/7"), 404, "VERSION_NOT_FOUND")
    assert_error(client.get("/api/v1/models/churn/aliases/nobody"), 404, "ALIAS_NOT_FOUND")
    assert_error(client.get("/api/v1/models/churn/aliases/sha256:00"), 400, "INVALID_ALIAS")
    assert_error(client.delete("/api/v1/models/churn/tags/nope"), 404, "TAG_NOT_FOUND")
    assert_error(
        client.post("/api/v1/search/versions", json={"filter": "metrics.auc >"}), 400, "INVALID_FILTER"
    )


def test_bad_digests(client: TestClient, seeded: ModelVersion) -> None:
    for method, path in [
        ("PUT", "/api/v1/chunks/md5:abc"),
        ("PUT", "/api/v1/chunks/sha256:" + "A" * 64),
        ("GET", f"{VERSIONS}/1/chunks/sha256:123"),
    ]:
        assert_error(client.request(method, path, content=b"x"), 400, "INVALID_DIGEST")
    assert_error(client.post("/api/v1/chunks/missing", json={"digests": ["nope"]}), 400, "INVALID_DIGEST")


def test_unexpected_exception_is_a_500_without_the_traceback(
    make_app: Callable[..., FastAPI], caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app()

    def explode() -> None:
        raise RuntimeError("secret internals: /etc/shadow")

    app.add_api_route("/api/v1/explode", explode)
    with TestClient(app, raise_server_exceptions=False) as test_client, caplog.at_level(logging.ERROR):
        response = test_client.get("/api/v1/explode", headers={"X-Request-ID": "req-42"})
    error = assert_error(response, 500, "INTERNAL_ERROR")
    assert "secret" not in response.text and "Traceback" not in response.text
    assert error["details"] == {"request_id": "req-42"} and "req-42" in error["message"]
    assert response.headers["x-request-id"] == "req-42"
    logged = [record for record in caplog.records if record.name == "modelreg.api"]
    assert logged and "req-42" in logged[0].getMessage()
    assert logged[0].exc_info is not None and "secret internals" in str(logged[0].exc_info[1])


def test_request_ids(client: TestClient) -> None:
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    for insane in ("x" * 129, "has space", ""):
        returned = client.get("/healthz", headers={"X-Request-ID": insane}).headers["x-request-id"]
        assert returned != insane and len(returned) == 32
    first, second = (client.get("/api/v1/nope").headers["x-request-id"] for _ in range(2))
    assert first != second


def test_authentication_errors_have_the_shape_and_the_challenge(client: TestClient, embedded: Client) -> None:
    embedded.create_token("admin", role="admin")
    for headers in (
        {},
        {"Authorization": "Basic YTpi"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer x"},
    ):
        response = client.get("/api/v1/models", headers=headers)
        assert_error(response, 401, "AUTHENTICATION_REQUIRED")
        assert response.headers["www-authenticate"] == "Bearer"
