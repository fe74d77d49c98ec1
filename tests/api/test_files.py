"""Plain file downloads: streamed from verified chunks, with HEAD, Range, ETag/304 and 416."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from modelreg.client.client import Client
from modelreg.types import ModelVersion
from tests.api.conftest import assert_error

FILES = "/api/v1/models/churn/versions/{ref}/files/{path}"


def url(path: str = "weights.bin", ref: str = "1") -> str:
    return FILES.format(ref=ref, path=path)


@pytest.fixture
def weights(model_dir: Path, seeded: ModelVersion) -> bytes:
    return (model_dir / "weights.bin").read_bytes()


def etag(data: bytes) -> str:
    return f'"{hashlib.sha256(data).hexdigest()}"'


def test_get_streams_the_whole_file_with_its_headers(client: TestClient, weights: bytes) -> None:
    response = client.get(url())
    assert response.status_code == 200
    assert response.content == weights
    assert response.headers["etag"] == etag(weights)
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["content-length"] == str(len(weights))
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"] == "attachment; filename*=UTF-8''weights.bin"


def test_any_version_selector_serves_the_file(
    client: TestClient, seeded: ModelVersion, model_dir: Path
) -> None:
    for ref in ("1", "latest", "@champion", "%40champion"):
        response = client.get(url("sub/vocab.txt", ref))
        assert response.status_code == 200, ref
        assert response.content == (model_dir / "sub" / "vocab.txt").read_bytes()
        assert response.headers["content-type"].startswith("text/plain")
    by_digest = client.get(url("config.json", f"@{seeded.digest}"))
    assert by_digest.json() == {"layers": 3} and by_digest.headers["content-type"] == "application/json"


def test_head_has_the_headers_and_no_body(client: TestClient, weights: bytes) -> None:
    response = client.head(url())
    assert response.status_code == 200 and response.content == b""
    assert response.headers["content-length"] == str(len(weights))
    assert response.headers["etag"] == etag(weights)
    ranged = client.head(url(), headers={"Range": "bytes=0-99"})
    assert ranged.status_code == 206 and ranged.headers["content-length"] == "100"


def test_ranges(client: TestClient, weights: bytes, seeded: ModelVersion) -> None:
    size = len(weights)
    manifest = client.get("/api/v1/models/churn/versions/1/manifest").json()["manifest"]
    chunks = next(entry["chunks"] for entry in manifest["files"] if entry["path"] == "weights.bin")
    assert len(chunks) >= 2, "the test needs a file of several chunks"
    boundary = chunks[0][1]
    cases = {
        "bytes=0-9": (0, 9),
        "bytes=10-": (10, size - 1),
        "bytes=-5": (size - 5, size - 1),
        f"bytes={boundary - 3}-{boundary + 2}": (boundary - 3, boundary + 2),  # across a chunk boundary
        f"bytes={size - 1}-{size + 100}": (size - 1, size - 1),  # clamped to the end
        f"bytes=-{size * 2}": (0, size - 1),  # a suffix longer than the file: all of it
    }
    for header, (start, end) in cases.items():
        response = client.get(url(), headers={"Range": header})
        assert response.status_code == 206, header
        assert response.content == weights[start : end + 1], header
        assert response.headers["content-range"] == f"bytes {start}-{end}/{size}"
        assert response.headers["content-length"] == str(end - start + 1)


def test_ranges_we_do_not_serve_are_ignored(client: TestClient, weights: bytes) -> None:
    for header in ("bytes=0-1,5-6", "items=0-5"):
        response = client.get(url(), headers={"Range": header})
        assert response.status_code == 200 and response.content == weights, header


def test_unsatisfiable_ranges_are_416(client: TestClient, weights: bytes) -> None:
    for header in ("bytes=5000000-", "bytes=-0", "bytes=abc", "bytes=9-3", "bytes=-"):
        response = client.get(url(), headers={"Range": header})
        error = assert_error(response, 416, "RANGE_NOT_SATISFIABLE")
        assert response.headers["content-range"] == f"bytes */{len(weights)}"
        assert error["details"] == {"size": len(weights)}


def test_etag_validators(client: TestClient, weights: bytes) -> None:
    tag = etag(weights)
    for header in (tag, "*", f"W/{tag}", f'"other", {tag}'):
        response = client.get(url(), headers={"If-None-Match": header})
        assert response.status_code == 304 and response.content == b"", header
        assert response.headers["etag"] == tag
    assert client.get(url(), headers={"If-None-Match": '"other"'}).status_code == 200
    stale = client.get(url(), headers={"Range": "bytes=0-9", "If-Range": '"other"'})
    assert stale.status_code == 200 and stale.content == weights
    fresh = client.get(url(), headers={"Range": "bytes=0-9", "If-Range": tag})
    assert fresh.status_code == 206 and fresh.content == weights[:10]


def test_missing_file_and_deleted_version(client: TestClient, seeded: ModelVersion, embedded: Client) -> None:
    assert_error(client.get(url("nope.bin")), 404, "PATH_NOT_FOUND")
    embedded.delete_version("churn/1")
    assert_error(client.get(url()), 409, "VERSION_DELETED")


def test_an_empty_file(client: TestClient, embedded: Client, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "nothing.txt").write_bytes(b"")
    embedded.push("hollow", tmp_path / "empty")
    path = "/api/v1/models/hollow/versions/1/files/nothing.txt"
    response = client.get(path)
    assert response.status_code == 200 and response.content == b""
    assert response.headers["content-length"] == "0"
    assert_error(client.get(path, headers={"Range": "bytes=0-"}), 416, "RANGE_NOT_SATISFIABLE")


def test_a_corrupt_chunk_is_an_error_never_wrong_bytes(
    client: TestClient, seeded: ModelVersion, storage_url: str
) -> None:
    manifest = client.get("/api/v1/models/churn/versions/1/manifest").json()["manifest"]
    first = next(entry for entry in manifest["files"] if entry["path"] == "weights.bin")["chunks"][0][0]
    hex_digest = first.removeprefix("sha256:")
    stored = (
        Path(storage_url.removeprefix("file://")) / "sha256" / hex_digest[:2] / hex_digest[2:4] / hex_digest
    )
    stored.chmod(0o644)
    stored.write_bytes(b"rotten" + stored.read_bytes()[6:])
    response = client.get(url())
    assert response.status_code == 422 and response.json()["error"]["code"] in (
        "DIGEST_MISMATCH",
        "CORRUPT_FILE",
    )
    assert_error(
        client.get(f"/api/v1/models/churn/versions/1/chunks/{first}"), 422, response.json()["error"]["code"]
    )
