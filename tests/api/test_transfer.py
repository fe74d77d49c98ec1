"""The push and pull protocol over HTTP: verified chunk uploads, all-or-nothing commits, idempotency."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from modelreg.types import ModelVersion
from tests.api.conftest import assert_error, sha256

VERSIONS = "/api/v1/models/{name}/versions"


def manifest(*files: tuple[str, list[bytes]]) -> dict[str, Any]:
    """A manifest document for files given as (path, chunks)."""
    entries = [
        {
            "path": path,
            "size": sum(len(chunk) for chunk in chunks),
            "digest": sha256(b"".join(chunks)),
            "chunks": [[sha256(chunk), len(chunk)] for chunk in chunks],
        }
        for path, chunks in files
    ]
    return {"schema": 1, "files": sorted(entries, key=lambda entry: entry["path"])}


def put(client: TestClient, data: bytes) -> int:
    return client.put(f"/api/v1/chunks/{sha256(data)}", content=data).status_code


def test_a_chunk_that_does_not_match_its_digest_is_422_and_not_stored(client: TestClient) -> None:
    claimed, sent = b"what the digest names", b"what was sent instead"
    response = client.put(f"/api/v1/chunks/{sha256(claimed)}", content=sent)
    assert_error(response, 422, "DIGEST_MISMATCH")
    missing = client.post("/api/v1/chunks/missing", json={"digests": [sha256(claimed), sha256(sent)]})
    assert missing.json() == {"missing": [sha256(claimed), sha256(sent)]}


def test_chunk_put_is_idempotent(client: TestClient) -> None:
    data = os.urandom(100_000)
    first = client.put(f"/api/v1/chunks/{sha256(data)}", content=data)
    assert first.status_code == 201 and first.json() == {"stored": True}
    again = client.put(f"/api/v1/chunks/{sha256(data)}", content=data)
    assert again.status_code == 200 and again.json() == {"stored": False}


def upload(client: TestClient, parts: list[bytes], *, named: list[str] | None = None) -> Any:
    """POST /chunks with these parts back to back, each named by its own digest and size unless ``named``."""
    named = named if named is not None else [f"{sha256(part)}:{len(part)}" for part in parts]
    return client.post("/api/v1/chunks", params={"chunk": named}, content=b"".join(parts))


def test_a_batch_of_chunks_is_stored_in_one_request(client: TestClient) -> None:
    parts = [os.urandom(70_000), b"", os.urandom(3)]
    first = upload(client, [*parts, parts[0]])  # a chunk named twice is stored once
    assert (first.status_code, first.json()) == (200, {"stored": [True, True, True, False]})
    digests = [sha256(part) for part in parts]
    assert client.post("/api/v1/chunks/missing", json={"digests": digests}).json() == {"missing": []}
    assert upload(client, parts).json() == {"stored": [False, False, False]}
    body = {"manifest": manifest(("w.bin", parts))}
    assert client.post(VERSIONS.format(name="batched"), json=body).status_code == 201
    assert client.get("/api/v1/models/batched/versions/1/files/w.bin").content == b"".join(parts)


def test_a_batch_with_one_chunk_that_does_not_match_stores_none_of_it(client: TestClient) -> None:
    good, claimed, sent = os.urandom(1000), b"what the digest names", b"what was sent instead"
    named = [f"{sha256(good)}:{len(good)}", f"{sha256(claimed)}:{len(sent)}"]
    error = assert_error(upload(client, [good, sent], named=named), 422, "DIGEST_MISMATCH")
    assert error["details"] == {"digest": sha256(claimed), "actual": sha256(sent)}
    digests = [sha256(good), sha256(claimed), sha256(sent)]
    assert client.post("/api/v1/chunks/missing", json={"digests": digests}).json() == {"missing": digests}


def test_bad_chunk_batches_are_refused_before_anything_is_stored(client: TestClient) -> None:
    data = os.urandom(100)
    name = f"{sha256(data)}:{len(data)}"
    for named, sent, code in [
        ([f"{sha256(data)}:{len(data) + 1}"], data, "INVALID_INPUT"),  # the body is shorter than named
        ([name, name], data, "INVALID_INPUT"),  # longer
        ([sha256(data)], data, "INVALID_INPUT"),  # no size
        ([f"{sha256(data)}:-100"], data, "INVALID_INPUT"),
        ([f"{sha256(data)}:1e2"], data, "INVALID_INPUT"),
        ([f"{sha256(data)}:{'9' * 13}"], data, "INVALID_INPUT"),
        ([f"sha256:{'A' * 64}:{len(data)}"], data, "INVALID_DIGEST"),
        ([f"md5:abc:{len(data)}"], data, "INVALID_DIGEST"),
    ]:
        assert_error(upload(client, [sent], named=named), 400, code)
    assert_error(client.post("/api/v1/chunks", content=data), 400, "INVALID_INPUT")  # nothing named
    too_many = [f"{sha256(bytes([n]))}:1" for n in range(65)]
    assert_error(upload(client, [bytes([n]) for n in range(65)], named=too_many), 413, "PAYLOAD_TOO_LARGE")
    assert client.post("/api/v1/chunks/missing", json={"digests": [sha256(data)]}).json() == {
        "missing": [sha256(data)]
    }
    most = [bytes([n]) for n in range(64)]
    assert upload(client, most).json() == {"stored": [True] * 64}


def test_a_server_that_skips_file_digest_checks_still_verifies_every_chunk(
    make_app: Callable[..., FastAPI],
) -> None:
    claimed, sent = b"what the digest names", b"what was sent instead"
    with TestClient(make_app(verify_file_digests=False)) as unchecked:
        response = unchecked.put(f"/api/v1/chunks/{sha256(claimed)}", content=sent)
        assert_error(response, 422, "DIGEST_MISMATCH")
        batch = upload(unchecked, [sent], named=[f"{sha256(claimed)}:{len(sent)}"])
        assert_error(batch, 422, "DIGEST_MISMATCH")
        missing = unchecked.post("/api/v1/chunks/missing", json={"digests": [sha256(claimed)]})
        assert missing.json() == {"missing": [sha256(claimed)]}


def test_a_commit_with_a_missing_chunk_is_404_and_creates_nothing(client: TestClient) -> None:
    present, absent = b"present chunk", b"never uploaded"
    assert put(client, present) == 201
    body = {"manifest": manifest(("a.bin", [present, absent]))}
    error = assert_error(client.post(VERSIONS.format(name="ghost"), json=body), 404, "CHUNK_NOT_FOUND")
    assert error["details"]["missing"] == [sha256(absent)]
    assert_error(client.get("/api/v1/models/ghost"), 404, "MODEL_NOT_FOUND")
    assert client.post("/api/v1/search/versions", json={}).json()["items"] == []


def test_push_and_pull_over_http(client: TestClient) -> None:
    chunks = [os.urandom(50_000), os.urandom(30_000)]
    files = manifest(("model/w.bin", chunks), ("readme.md", [b"# hi"]))
    digests = [sha256(chunk) for chunk in [*chunks, b"# hi"]]
    assert client.post("/api/v1/files/known", json={"digests": [files["files"][0]["digest"]]}).json() == {
        "files": {}
    }
    assert client.post("/api/v1/chunks/missing", json={"digests": digests}).json() == {"missing": digests}
    assert [put(client, chunk) for chunk in [*chunks, b"# hi"]] == [201, 201, 201]
    body = {"manifest": files, "metrics": {"auc": 0.9}, "tags": {"team": "risk"}, "aliases": ["candidate"]}
    created = client.post(VERSIONS.format(name="net"), json=body)
    assert created.status_code == 201
    version = created.json()
    assert (version["version"], version["metrics"], version["aliases"]) == (1, {"auc": 0.9}, ["candidate"])

    pulled = client.get("/api/v1/models/net/versions/@candidate/manifest").json()
    report = {key: version.pop(key) for key in ("bytes_new", "bytes_deduplicated", "chunks_new")}
    assert report == {"bytes_new": 80_004, "bytes_deduplicated": 0, "chunks_new": 3}
    assert version.pop("chunks_deduplicated") == 0  # the commit answer: the version and what it added
    assert pulled["version"] == version and pulled["manifest"]["files"][0]["path"] == "model/w.bin"
    for chunk in chunks:
        response = client.get(f"/api/v1/models/net/versions/1/chunks/{sha256(chunk)}")
        assert response.content == chunk and response.headers["etag"] == f'"{sha256(chunk)[7:]}"'
        assert response.headers["content-type"] == "application/octet-stream"
    assert client.get("/api/v1/models/net/versions/1/files/model/w.bin").content == b"".join(chunks)
    # A chunk is only readable through a version that holds it.
    assert put(client, b"stray") == 201
    assert_error(
        client.get(f"/api/v1/models/net/versions/1/chunks/{sha256(b'stray')}"), 404, "CHUNK_NOT_FOUND"
    )


def test_idempotent_commit(client: TestClient) -> None:
    data = os.urandom(10_000)
    assert put(client, data) == 201
    body = {"manifest": manifest(("w.bin", [data])), "params": {"lr": "0.1"}}
    key = {"Idempotency-Key": "push-7f3a"}
    first = client.post(VERSIONS.format(name="retry"), json=body, headers=key)
    again = client.post(VERSIONS.format(name="retry"), json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and first.json()["version"] == 1
    listing = client.get(VERSIONS.format(name="retry")).json()
    assert [item["version"] for item in listing["items"]] == [1]
    changed = {**body, "params": {"lr": "0.2"}}
    response = client.post(VERSIONS.format(name="retry"), json=changed, headers=key)
    assert_error(response, 409, "IDEMPOTENCY_KEY_REUSED")
    without_key = client.post(VERSIONS.format(name="retry"), json=body)
    assert without_key.json()["version"] == 2


def test_dedup_and_request_metrics(client: TestClient, seeded: ModelVersion) -> None:
    weights = next(entry for entry in seeded.files if entry.path == "weights.bin")
    known = client.post("/api/v1/files/known", json={"digests": [weights.digest]}).json()["files"]
    chunk_list = known[weights.digest]
    assert sum(size for _, size in chunk_list) == weights.size
    missing = client.post("/api/v1/chunks/missing", json={"digests": [chunk_list[0][0], sha256(b"new")]})
    assert missing.json() == {"missing": [sha256(b"new")]}

    text = client.get("/metrics").text
    assert _sample(text, 'modelreg_dedup_bytes_total{answer="known_files"}') == weights.size
    assert _sample(text, 'modelreg_dedup_chunks_total{answer="known_files"}') == len(chunk_list)
    assert _sample(text, 'modelreg_dedup_chunks_total{answer="missing_chunks"}') == 1
    route = 'method="POST",route="/api/v1/chunks/missing",status="200"'
    assert _sample(text, f"modelreg_http_requests_total{{{route}}}") == 1
    assert _sample(text, f"modelreg_http_request_duration_seconds_count{{{route}}}") == 1
    assert _sample(text, 'modelreg_http_sent_bytes_total{route="/api/v1/files/known"}') > 0


def _sample(text: str, series: str) -> float:
    matched = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
    assert matched is not None, f"{series} not in /metrics"
    return float(matched.group(1))


def test_a_commit_claiming_a_false_file_digest_is_refused_and_poisons_nothing(client: TestClient) -> None:
    """A client cannot bind existing chunks to a digest they do not hash to: later pushes of the real
    content with that digest would otherwise trust the forged chunk list."""
    chunk = os.urandom(1000)
    assert put(client, chunk) == 201
    forged = manifest(("model.bin", [chunk]))
    real_digest = forged["files"][0]["digest"]
    forged["files"][0]["digest"] = sha256(b"some other content of the same size")
    response = client.post(VERSIONS.format(name="m"), json={"manifest": forged})
    assert_error(response, 422, "DIGEST_MISMATCH")
    assert "model.bin" in response.json()["error"]["message"]
    known = client.post("/api/v1/files/known", json={"digests": [forged["files"][0]["digest"], real_digest]})
    assert known.json() == {"files": {}}
    assert_error(client.get("/api/v1/models/m"), 404, "MODEL_NOT_FOUND")


@pytest.mark.parametrize("count", [1, 3])
def test_a_files_digest_is_checked_whatever_its_chunk_count(client: TestClient, count: int) -> None:
    """One chunk: its digest is the file's (compared, no read); several: their bytes are read and hashed.
    Either way a digest they do not hash to is refused, and the real one accepted."""
    chunks = [os.urandom(1000) for _ in range(count)]
    for chunk in chunks:
        assert put(client, chunk) == 201
    document = manifest(("model.bin", chunks))
    real = document["files"][0]["digest"]
    document["files"][0]["digest"] = sha256(b"".join(reversed(chunks)) + b"!")
    response = client.post(VERSIONS.format(name="m"), json={"manifest": document})
    assert_error(response, 422, "DIGEST_MISMATCH")
    assert f"its chunks hash to {real}," in response.json()["error"]["message"]
    document["files"][0]["digest"] = real
    assert client.post(VERSIONS.format(name="m"), json={"manifest": document}).status_code == 201


def test_a_damaged_chunk_reused_by_a_new_file_is_named_as_damage_not_as_a_false_digest(
    client: TestClient, storage_url: str
) -> None:
    """The commit hashes a new file without re-hashing each chunk on the way; when the file's digest then
    differs, it reads again verifying each chunk, so damage in the store is reported as such."""
    chunks = [os.urandom(1000) for _ in range(2)]
    for chunk in chunks:
        assert put(client, chunk) == 201
    hex_digest = sha256(chunks[1]).removeprefix("sha256:")
    stored = (
        Path(storage_url.removeprefix("file://")) / "sha256" / hex_digest[:2] / hex_digest[2:4] / hex_digest
    )
    stored.chmod(0o644)
    stored.write_bytes(b"rotten" + chunks[1][6:])
    response = client.post(VERSIONS.format(name="m"), json={"manifest": manifest(("model.bin", chunks))})
    assert_error(response, 422, "DIGEST_MISMATCH")
    assert response.json()["error"]["message"].startswith(f"stored chunk {sha256(chunks[1])} is corrupted")
    assert_error(client.get("/api/v1/models/m"), 404, "MODEL_NOT_FOUND")


READ = "/api/v1/models/churn/versions/{ref}/chunks/read"


def _version_chunks(client: TestClient, ref: str = "1") -> list[dict[str, Any]]:
    document = client.get(f"/api/v1/models/churn/versions/{ref}/manifest").json()["manifest"]
    return [{"digest": d, "size": s} for record in document["files"] for d, s in record["chunks"]]


def test_a_batch_read_answers_the_chunks_back_to_back_in_the_order_asked(
    client: TestClient, seeded: ModelVersion
) -> None:
    chunks = _version_chunks(client)
    assert len(chunks) >= 3
    asked = [chunks[2], chunks[0], chunks[2]]  # any order, repeats allowed
    response = client.post(READ.format(ref="@champion"), json={"chunks": asked})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    assert int(response.headers["content-length"]) == sum(c["size"] for c in asked) == len(response.content)
    offset = 0
    for chunk in asked:
        assert sha256(response.content[offset : offset + chunk["size"]]) == chunk["digest"]
        offset += chunk["size"]
    empty = client.post(READ.format(ref="1"), json={"chunks": []})
    assert (empty.status_code, empty.content) == (200, b"")


def test_a_batch_read_checks_every_chunk_before_sending_any(client: TestClient, seeded: ModelVersion) -> None:
    chunks = _version_chunks(client)
    assert put(client, b"stray") == 201  # stored, but no version of churn holds it
    stray = {"digest": sha256(b"stray"), "size": 5}
    error = assert_error(
        client.post(READ.format(ref="1"), json={"chunks": [chunks[0], stray]}), 404, "CHUNK_NOT_FOUND"
    )
    assert stray["digest"] in error["message"]
    wrong_size = {**chunks[0], "size": chunks[0]["size"] - 1}
    assert_error(client.post(READ.format(ref="1"), json={"chunks": [wrong_size]}), 404, "CHUNK_NOT_FOUND")
    assert_error(client.post(READ.format(ref="2"), json={"chunks": [chunks[0]]}), 404, "VERSION_NOT_FOUND")
    bad = {"digest": "sha256:xyz", "size": 1}
    assert_error(client.post(READ.format(ref="1"), json={"chunks": [bad]}), 400, "INVALID_DIGEST")
    for body in ({"chunks": [{"digest": chunks[0]["digest"], "size": "1"}]}, {"chunks": [{"size": 1}]}, {}):
        assert_error(client.post(READ.format(ref="1"), json=body), 400, "INVALID_INPUT")
    negative = {"chunks": [{**chunks[0], "size": -1}]}
    assert_error(client.post(READ.format(ref="1"), json=negative), 400, "INVALID_INPUT")
    too_many = {"chunks": [chunks[0]] * 1025}
    assert_error(client.post(READ.format(ref="1"), json=too_many), 413, "PAYLOAD_TOO_LARGE")


def test_a_batch_read_of_a_damaged_chunk_is_an_error_never_wrong_bytes(
    client: TestClient, seeded: ModelVersion, storage_url: str
) -> None:
    """First chunk damaged: a proper error answer. A later one: the body is cut short (``Content-Length``
    says so), as a whole-file download's is."""
    chunks = _version_chunks(client)
    hex_digest = chunks[1]["digest"].removeprefix("sha256:")
    stored = (
        Path(storage_url.removeprefix("file://")) / "sha256" / hex_digest[:2] / hex_digest[2:4] / hex_digest
    )
    stored.chmod(0o644)
    stored.write_bytes(b"rotten" + stored.read_bytes()[6:])
    first = client.post(READ.format(ref="1"), json={"chunks": [chunks[1]]})
    assert_error(first, 422, "DIGEST_MISMATCH")
    assert first.json()["error"]["message"].startswith(f"stored chunk {chunks[1]['digest']} is corrupted")
    cut = client.post(READ.format(ref="1"), json={"chunks": [chunks[0], chunks[1]]})
    assert cut.status_code == 200
    assert int(cut.headers["content-length"]) == chunks[0]["size"] + chunks[1]["size"]
    assert sha256(cut.content) == chunks[0]["digest"]  # the good chunk, then the end
