"""Direct transfers end to end: the HTTP SDK → the real app (``server.build_app``) → S3 on loopback (moto).

The app runs in-process (as the ``reg`` fixture's HTTP SDK does); chunk bytes go over real sockets between
the SDK and the moto server. Each test reads the app's own Prometheus metrics to prove that the API server
received (or sent) no chunk body. Two S3 servers: moto as shipped, which stores any body under any
checksum (so commits read new chunks back), and ``strict_s3_endpoint``, which refuses a body that does not
match its signed sha256 as S3 does (so commits trust the stored checksum). On SQLite and PostgreSQL.
"""

from __future__ import annotations

import base64
import contextlib
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import modelreg
from modelreg.blobs.s3 import make_client
from modelreg.client.client import Client
from modelreg.client.http import HttpBackend
from modelreg.digest import sha256_bytes
from modelreg.errors import CorruptFile, InvalidInput
from modelreg.registry.manifest import ChunkRef, FileRecord, Manifest
from modelreg.server import build_app
from modelreg.settings import Settings
from modelreg.transfer.cache import ChunkCache
from tests.conftest import _InProcess, tree_bytes

MODELREG = str(Path(sys.executable).parent / "modelreg")
PUT_ROUTE = "/api/v1/chunks/{digest}"
UPLOAD_ROUTE = "/api/v1/chunks"
GET_ROUTE = "/api/v1/models/{name}/versions/{ref}/chunks/{digest}"
READ_ROUTE = "/api/v1/models/{name}/versions/{ref}/chunks/read"
Build = Callable[..., FastAPI]


@pytest.fixture(params=["moto", "strict"])
def endpoint(request: pytest.FixtureRequest) -> str:
    name = "s3_endpoint" if request.param == "moto" else "strict_s3_endpoint"
    value: str = request.getfixturevalue(name)
    return value


@pytest.fixture
def bucket(endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """A fresh bucket, and the environment a deployment has (AWS variables, MODELREG_S3_ENDPOINT_URL)."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("MODELREG_S3_ENDPOINT_URL", endpoint)
    name = f"modelreg-direct-{secrets.token_hex(6)}"
    s3(endpoint).create_bucket(Bucket=name)
    return name


def s3(endpoint: str) -> Any:
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    return make_client(endpoint_url=endpoint, session=session)


@pytest.fixture
def build(database: str, bucket: str) -> Build:
    def make(**overrides: Any) -> FastAPI:
        return build_app(Settings(registry=database, storage=f"s3://{bucket}/chunks", **overrides))

    return make


@pytest.fixture
def served(build: Build) -> Iterator[TestClient]:
    with TestClient(build(direct_transfers=True), base_url="http://testserver") as client:
        yield client


def sdk(app: TestClient, cache: Path, stack: contextlib.ExitStack) -> Client:
    http = stack.enter_context(httpx.Client(transport=_InProcess(app)))
    backend = HttpBackend("http://testserver", client=http, retries=1, backoff=0.01)
    return stack.enter_context(Client(backend, cache=ChunkCache(cache), location="http://testserver"))


def metric(app: TestClient, name: str, **labels: str) -> float:
    value = app.app.state.metrics.registry.get_sample_value(name, labels)  # type: ignore[attr-defined]
    return float(value or 0.0)


def stored_keys(endpoint: str, bucket: str) -> list[str]:
    listing = s3(endpoint).list_objects_v2(Bucket=bucket, Prefix="chunks/sha256/")
    return sorted(entry["Key"] for entry in listing.get("Contents", ()))


def test_push_and_pull_move_no_chunk_bytes_through_the_server(
    served: TestClient, model_dir: Path, tmp_path: Path, endpoint: str, bucket: str
) -> None:
    with contextlib.ExitStack() as stack:
        client = sdk(served, tmp_path / "cache", stack)
        version = client.push("churn", model_dir, metrics={"auc": 0.9})
        assert client.last_push is not None and client.last_push.bytes_stored == 3_000_019
        path = client.pull("churn/1", dest=tmp_path / "out")
        assert client.last_pull is not None and client.last_pull.bytes_fetched == 3_000_019
    assert (version.ref, tree_bytes(Path(path))) == ("churn/1", tree_bytes(model_dir))
    assert len(stored_keys(endpoint, bucket)) == client.last_push.chunks_stored >= 3
    # The API server saw the chunk routes neither way: every body went to and came from S3 directly.
    for route in (PUT_ROUTE, UPLOAD_ROUTE):
        assert metric(served, "modelreg_http_received_bytes_total", route=route) == 0
    assert metric(served, "modelreg_http_sent_bytes_total", route=GET_ROUTE) == 0
    assert metric(served, "modelreg_http_sent_bytes_total", route=READ_ROUTE) == 0
    uploads = metric(served, "modelreg_http_requests_total", method="POST", route=UPLOAD_ROUTE, status="200")
    assert uploads == 0


def test_without_direct_transfers_the_same_client_goes_through_the_server(
    build: Build, model_dir: Path, tmp_path: Path
) -> None:
    with TestClient(build(), base_url="http://testserver") as app, contextlib.ExitStack() as stack:
        client = sdk(app, tmp_path / "cache", stack)
        client.push("churn", model_dir)
        path = client.pull("churn/1", dest=tmp_path / "out")
        assert tree_bytes(Path(path)) == tree_bytes(model_dir)
        assert metric(app, "modelreg_http_received_bytes_total", route=UPLOAD_ROUTE) >= 3_000_019
        assert metric(app, "modelreg_http_sent_bytes_total", route=READ_ROUTE) >= 3_000_000
        answer = app.post("/api/v1/chunks/missing?upload_urls=true", json={"digests": [digest(b"x")]})
        assert answer.json() == {"missing": [digest(b"x")], "uploads": {}}


def test_an_old_client_that_asks_for_no_urls_still_uploads_through_the_server(served: TestClient) -> None:
    data = b"an old client's chunk"
    answer = served.post("/api/v1/chunks/missing", json={"digests": [digest(data)]})
    assert answer.json() == {"missing": [digest(data)]}
    assert served.put(f"/api/v1/chunks/{digest(data)}", content=data).status_code == 201
    assert served.post("/api/v1/chunks/missing", json={"digests": [digest(data)]}).json() == {"missing": []}


def test_a_tampered_body_is_refused_and_nothing_is_committed(
    served: TestClient, endpoint: str, bucket: str, request: pytest.FixtureRequest
) -> None:
    good, bad = b"the real chunk" * 1000, b"something else" * 1000
    answer = served.post("/api/v1/chunks/missing?upload_urls=true", json={"digests": [digest(good)]})
    upload = answer.json()["uploads"][digest(good)]
    assert upload["method"] == "PUT" and upload["expires_in"] == 900
    checksum = base64.b64encode(bytes.fromhex(digest(good)[7:])).decode()
    assert upload["headers"] == {"x-amz-checksum-sha256": checksum, "If-None-Match": "*"}
    assert "X-Amz-Signature=" in upload["url"] and "x-amz-checksum-sha256" in upload["url"]
    sent = httpx.put(upload["url"], content=bad, headers=upload["headers"])
    strict = request.node.callspec.params["endpoint"] == "strict"
    if strict:  # S3 refuses the body itself
        assert (sent.status_code, "<Code>BadDigest</Code>" in sent.text) == (400, True)
        assert stored_keys(endpoint, bucket) == []
    else:  # moto stores it: the commit reads it back and refuses
        assert sent.status_code == 200 and len(stored_keys(endpoint, bucket)) == 1
    manifest = Manifest.build(
        [FileRecord("w.bin", len(good), digest(good), (ChunkRef(digest(good), len(good)),))]
    )
    commit = served.post("/api/v1/models/churn/versions", json={"manifest": manifest.to_json()})
    expected = ("CHUNK_NOT_FOUND", 404) if strict else ("DIGEST_MISMATCH", 422)
    assert (commit.json()["error"]["code"], commit.status_code) == expected
    assert served.get("/api/v1/models/churn").status_code == 404  # nothing registered
    assert stored_keys(endpoint, bucket) == []  # the tampered object was removed: a real upload can follow
    retry = served.post("/api/v1/chunks/missing?upload_urls=true", json={"digests": [digest(good)]}).json()
    assert retry["missing"] == [digest(good)]
    fresh = retry["uploads"][digest(good)]
    assert httpx.put(fresh["url"], content=good, headers=fresh["headers"]).status_code == 200
    assert (
        served.post("/api/v1/models/churn/versions", json={"manifest": manifest.to_json()}).status_code == 201
    )


def test_the_store_is_asked_only_about_chunks_the_registry_has_a_record_of(
    served: TestClient, endpoint: str, bucket: str
) -> None:
    """A chunk handed an upload URL is asked about again (a resumed push sends only what is missing); one
    the registry never heard of is answered missing without a HEAD, and its create-only PUT meets it."""

    def plan(*chunks: bytes) -> Any:
        body = {"digests": [digest(chunk) for chunk in chunks]}
        return served.post("/api/v1/chunks/missing?upload_urls=true", json=body).json()

    def upload(ticket: dict[str, Any], data: bytes) -> int:
        return httpx.put(ticket["url"], content=data, headers=ticket["headers"]).status_code

    sent, unsent = b"uploaded before the push died" * 100, b"never sent" * 100
    first = plan(sent, unsent)
    assert first["missing"] == [digest(sent), digest(unsent)]
    assert upload(first["uploads"][digest(sent)], sent) == 200
    again = plan(sent, unsent)  # the push, run again
    assert (again["missing"], list(again["uploads"])) == ([digest(unsent)], [digest(unsent)])

    stray = b"written by another tool, straight into the bucket" * 100
    hex_ = digest(stray)[7:]
    checksum = base64.b64encode(bytes.fromhex(hex_)).decode()
    key = f"chunks/sha256/{hex_[:2]}/{hex_}"
    s3(endpoint).put_object(Bucket=bucket, Key=key, Body=stray, ChecksumSHA256=checksum)
    answer = plan(stray)
    assert answer["missing"] == [digest(stray)]  # no record of it: S3 was not asked
    assert upload(answer["uploads"][digest(stray)], stray) == 412  # create-only: it is there
    record = FileRecord("w.bin", len(stray), digest(stray), (ChunkRef(digest(stray), len(stray)),))
    commit = served.post(
        "/api/v1/models/churn/versions", json={"manifest": Manifest.build([record]).to_json()}
    )
    assert commit.status_code == 201  # the commit's HEAD found it, of its size and checksum
    assert plan(stray) == {"missing": [], "uploads": {}}  # referenced now: asked about, and present
    s3(endpoint).delete_object(Bucket=bucket, Key=key)
    assert plan(stray)["missing"] == [digest(stray)]  # referenced yet lost: asked about, and missing


def test_a_wrong_size_in_the_manifest_is_refused(served: TestClient) -> None:
    data = b"sized chunk" * 100
    upload = served.post("/api/v1/chunks/missing?upload_urls=true", json={"digests": [digest(data)]}).json()
    ticket = upload["uploads"][digest(data)]
    assert httpx.put(ticket["url"], content=data, headers=ticket["headers"]).status_code == 200
    manifest = Manifest.build([FileRecord("w.bin", 5, digest(data), (ChunkRef(digest(data), 5),))])
    commit = served.post("/api/v1/models/churn/versions", json={"manifest": manifest.to_json()})
    assert (commit.status_code, commit.json()["error"]["code"]) == (400, "INVALID_INPUT")
    assert "another size" in commit.json()["error"]["message"]


def test_download_urls_only_for_chunks_of_a_version_the_caller_may_pull(
    served: TestClient, model_dir: Path, tmp_path: Path
) -> None:
    with contextlib.ExitStack() as stack:
        client = sdk(served, tmp_path / "cache", stack)
        client.push("churn", model_dir)
        client.push("other", model_dir / "config.json")
    manifest = served.get("/api/v1/models/churn/versions/1/manifest").json()
    assert manifest["direct_downloads"] is True
    chunks = [c[0] for f in manifest["manifest"]["files"] for c in f["chunks"] if f["path"] == "weights.bin"]
    urls = served.post("/api/v1/models/churn/versions/1/chunks/urls", json={"digests": chunks})
    assert urls.status_code == 200 and sorted(urls.json()["downloads"]) == sorted(chunks)
    body = httpx.get(urls.json()["downloads"][chunks[0]]["url"]).content
    assert sha256_bytes(body) == chunks[0]
    foreign = served.post("/api/v1/models/other/versions/1/chunks/urls", json={"digests": [chunks[0]]})
    assert (foreign.status_code, foreign.json()["error"]["code"]) == (404, "CHUNK_NOT_FOUND")
    unknown = served.post("/api/v1/models/churn/versions/9/chunks/urls", json={"digests": [chunks[0]]})
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "VERSION_NOT_FOUND")
    bad = served.post("/api/v1/models/churn/versions/1/chunks/urls", json={"digests": ["md5:00"]})
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "INVALID_DIGEST")
    assert served.delete("/api/v1/models/churn/versions/1").status_code == 200
    deleted = served.post("/api/v1/models/churn/versions/1/chunks/urls", json={"digests": [chunks[0]]})
    assert (deleted.status_code, deleted.json()["error"]["code"]) == (409, "VERSION_DELETED")


def test_urls_need_the_callers_permissions(build: Build, database: str, bucket: str, model_dir: Path) -> None:
    with modelreg.connect(database, storage=f"s3://{bucket}/chunks", actor="alice") as embedded:
        embedded.push("churn", model_dir)
        viewer = embedded.create_token("v", role="viewer").secret
    chunk = digest(b"new")
    with TestClient(build(direct_transfers=True), base_url="http://testserver") as app:
        anonymous = app.post("/api/v1/chunks/missing?upload_urls=true", json={"digests": [chunk]})
        assert (anonymous.status_code, anonymous.json()["error"]["code"]) == (401, "AUTHENTICATION_REQUIRED")
        headers = {"Authorization": f"Bearer {viewer}"}
        upload = app.post(
            "/api/v1/chunks/missing?upload_urls=true", json={"digests": [chunk]}, headers=headers
        )
        assert (upload.status_code, upload.json()["error"]["code"]) == (403, "PERMISSION_DENIED")
        manifest = app.get("/api/v1/models/churn/versions/1/manifest", headers=headers).json()["manifest"]
        first = manifest["files"][0]["chunks"][0][0]
        pull = app.post(
            "/api/v1/models/churn/versions/1/chunks/urls", json={"digests": [first]}, headers=headers
        )
        assert pull.status_code == 200 and list(pull.json()["downloads"]) == [first]


def test_a_store_that_cannot_presign_is_refused_at_start(database: str, tmp_path: Path) -> None:
    settings = Settings(registry=database, storage=f"file://{tmp_path / 'chunks'}", direct_transfers=True)
    with pytest.raises(InvalidInput, match="cannot presign URLs"):
        build_app(settings)


def test_commits_verify_by_the_stored_checksum_only_where_the_store_enforces_it(
    build: Build, request: pytest.FixtureRequest
) -> None:
    with TestClient(build(direct_transfers=True)) as app:
        store = app.app.state.registry.direct.store  # type: ignore[attr-defined]
        assert store.enforces_checksums() is (request.node.callspec.params["endpoint"] == "strict")


def test_a_chunk_corrupted_in_the_store_fails_a_direct_pull_through_the_server(
    served: TestClient, model_dir: Path, tmp_path: Path, endpoint: str, bucket: str
) -> None:
    """A direct GET whose bytes fail their sha256 is retried through the API, which names the corruption."""
    with contextlib.ExitStack() as stack:
        client = sdk(served, tmp_path / "cache", stack)
        client.push("churn", model_dir / "config.json")
        (key,) = stored_keys(endpoint, bucket)
        s3(endpoint).put_object(Bucket=bucket, Key=key, Body=b"rotten")
        with pytest.raises(CorruptFile, match="corrupted"):
            client.pull("churn/1", dest=tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert metric(served, "modelreg_http_requests_total", method="GET", route=GET_ROUTE, status="422") == 1


def test_serve_direct_transfers_end_to_end_and_refused_on_a_file_store(
    database: str, bucket: str, endpoint: str, model_dir: Path, tmp_path: Path
) -> None:
    """The real ``modelreg serve --direct-transfers`` process: the flag reaches its workers, the SDK over a
    socket pushes and pulls through S3, and the server's /metrics shows no chunk body either way."""
    refused = subprocess.run(
        [
            MODELREG,
            "--registry",
            str(tmp_path / "file-registry"),
            "serve",
            "--direct-transfers",
            "--port",
            "1",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 2
    assert refused.stderr.startswith(
        "error: INVALID_INPUT: cannot serve with direct transfers: the chunk store"
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [MODELREG, "serve", "--direct-transfers", "--port", str(port), "--database-url", database]
    command += ["--storage-url", f"s3://{bucket}/chunks"]
    log = tmp_path / "serve.log"
    with open(log, "wb") as sink:
        server = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, server, log)
        with modelreg.connect(url, cache_dir=tmp_path / "cache") as client:
            client.push("churn", model_dir)
            pulled = client.pull("churn/1", dest=tmp_path / "out")
        assert tree_bytes(Path(pulled)) == tree_bytes(model_dir)
        metrics = httpx.get(f"{url}/metrics", timeout=10).text
        assert 'modelreg_http_received_bytes_total{route="/api/v1/chunks"}' not in metrics
        assert '/chunks/{digest}"' not in metrics and '/chunks/read"' not in metrics  # no chunk route called
        assert "commits verify them by" in log.read_text()
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def wait_ready(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"modelreg serve exited ({server.returncode}):\n{log.read_text()[-3000:]}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        time.sleep(0.05)
    pytest.fail(f"modelreg serve never became ready:\n{log.read_text()[-3000:]}")


def digest(data: bytes) -> str:
    return sha256_bytes(data)
