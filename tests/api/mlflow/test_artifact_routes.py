"""MLflow's artifact proxy through the real app: streamed uploads into the chunk store, verified downloads,
listings as MLflow's server gives them, deletes, path rules, limits, and the read-only registry/ namespace."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2 as httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.types import Message

from modelreg.access import Actor
from modelreg.api import Limits, create_app
from modelreg.connection import open_stores
from modelreg.registry.service import Registry
from modelreg.types import ModelVersion
from tests.api.conftest import Secrets, bearer
from tests.api.mlflow.conftest import mlflow_error
from tests.api.mlflow.test_tracking_routes import API, create_experiment, create_run, ok
from tests.api.test_server import start

ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
MiB = 1024 * 1024


@pytest.fixture
def root(client: TestClient) -> str:
    """A run's artifact directory, as MLflow's client writes to it: <experiment>/<run>/artifacts."""
    experiment_id = create_experiment(client)
    run_id = create_run(client, experiment_id)["info"]["run_id"]
    return f"{experiment_id}/{run_id}/artifacts"


@pytest.fixture
def chunk_count(database: str, storage_url: str) -> Iterator[Callable[[], int]]:
    """How many chunks the registry's chunk store holds."""
    metadata, chunks = open_stores(database, storage=storage_url)
    yield lambda: sum(1 for _ in chunks.iter())
    metadata.close()


def put(client: TestClient, path: str, data: bytes, **kwargs: Any) -> httpx.Response:
    return client.put(f"{ARTIFACTS}/{path}", content=data, **kwargs)


def listing(client: TestClient, path: str | None = None, **kwargs: Any) -> Any:
    params = {} if path is None else {"path": path}
    return ok(client.get(ARTIFACTS, params=params, **kwargs))


def etag(data: bytes) -> str:
    return f'"{hashlib.sha256(data).hexdigest()}"'


def test_upload_then_download(client: TestClient, root: str) -> None:
    data = b"flavors:\n  python_function: {}\n"
    uploaded = put(client, f"{root}/model/MLmodel", data, headers={"Content-Type": "text/plain"})
    assert uploaded.status_code == 200 and uploaded.content == b""
    got = client.get(f"{ARTIFACTS}/{root}/model/MLmodel")
    assert got.status_code == 200 and got.content == data
    assert got.headers["content-length"] == str(len(data)) and got.headers["etag"] == etag(data)
    assert got.headers["content-disposition"] == "attachment; filename*=UTF-8''MLmodel"
    unchanged = client.get(f"{ARTIFACTS}/{root}/model/MLmodel", headers={"If-None-Match": etag(data)})
    assert unchanged.status_code == 304 and unchanged.content == b""
    # MLflow's client sends a JSON file with Content-Type application/json: still stored as raw bytes.
    document = b'{"not": "parsed"}'
    assert (
        put(
            client, f"{root}/model/meta.json", document, headers={"Content-Type": "application/json"}
        ).status_code
        == 200
    )
    assert client.get(f"{ARTIFACTS}/{root}/model/meta.json").content == document
    # An upload to an existing path replaces the file.
    assert put(client, f"{root}/model/MLmodel", b"v2").status_code == 200
    again = client.get(f"{ARTIFACTS}/{root}/model/MLmodel")
    assert again.content == b"v2" and again.headers["etag"] == etag(b"v2")
    empty = put(client, f"{root}/empty.txt", b"")
    assert empty.status_code == 200 and client.get(f"{ARTIFACTS}/{root}/empty.txt").content == b""


def test_listing_as_mlflow_gives_it(client: TestClient, root: str) -> None:
    experiment_id, run_id, _ = root.split("/")
    put(client, f"{root}/model/MLmodel", b"x" * 12)
    put(client, f"{root}/model/sub/w.bin", b"y" * 1000)
    put(client, f"{root}/empty.txt", b"")
    assert listing(client, root) == {
        "files": [{"path": "empty.txt", "is_dir": False}, {"path": "model", "is_dir": True}]
    }  # a file of 0 bytes has no file_size, as on MLflow's server
    assert listing(client, f"{root}/model/") == {
        "files": [{"path": "MLmodel", "is_dir": False, "file_size": 12}, {"path": "sub", "is_dir": True}]
    }
    assert listing(client, experiment_id) == {"files": [{"path": run_id, "is_dir": True}]}
    top = listing(client)["files"]
    assert {"path": experiment_id, "is_dir": True} in top and all(entry["is_dir"] for entry in top)
    assert listing(client, f"{root}/model/MLmodel") == {}  # a file lists as nothing
    assert listing(client, f"{root}/nope") == {}
    assert ok(
        client.get("/ajax-api/2.0/mlflow-artifacts/artifacts", params={"path": f"{root}/model/sub"})
    ) == {"files": [{"path": "w.bin", "is_dir": False, "file_size": 1000}]}


def test_delete_a_file_and_a_directory(client: TestClient, root: str) -> None:
    for path in ("model/MLmodel", "model/sub/a.bin", "model/sub/b.bin", "keep.txt"):
        put(client, f"{root}/{path}", path.encode())
    assert ok(client.delete(f"{ARTIFACTS}/{root}/model/sub")) == {}
    assert listing(client, f"{root}/model") == {
        "files": [{"path": "MLmodel", "is_dir": False, "file_size": 13}]
    }
    missing = client.get(f"{ARTIFACTS}/{root}/model/sub/a.bin")
    mlflow_error(missing, 404, "RESOURCE_DOES_NOT_EXIST")
    assert ok(client.delete(f"{ARTIFACTS}/{root}/model/MLmodel")) == {}
    assert ok(client.delete(f"{ARTIFACTS}/{root}/nothing/here")) == {}  # as MLflow: nothing to delete is fine
    assert listing(client, root) == {"files": [{"path": "keep.txt", "is_dir": False, "file_size": 8}]}
    assert client.get(f"{ARTIFACTS}/{root}/keep.txt").content == b"keep.txt"


def test_download_errors(client: TestClient, root: str) -> None:
    put(client, f"{root}/model/MLmodel", b"x")
    mlflow_error(client.get(f"{ARTIFACTS}/{root}/nope"), 404, "RESOURCE_DOES_NOT_EXIST")
    mlflow_error(client.get(f"{ARTIFACTS}/{root}/model"), 400, "INVALID_PARAMETER_VALUE")  # a directory
    mlflow_error(client.get(f"{ARTIFACTS}/999/x/artifacts/y"), 404, "RESOURCE_DOES_NOT_EXIST")


@pytest.mark.parametrize(
    "path",
    [
        "..%2f..%2fetc/passwd",
        "0/%2e%2e/%2e%2e/etc/passwd",
        "0/run/%2E%2E/%2e%2E/x",
        "0//x",
        "0/x/",
        "0/a\\b",
    ],
)
def test_path_traversal_is_refused(
    client: TestClient, root: str, chunk_count: Callable[[], int], path: str
) -> None:
    before = chunk_count()
    mlflow_error(client.put(f"{ARTIFACTS}/{path}", content=b"evil"), 400, "INVALID_PARAMETER_VALUE")
    mlflow_error(client.get(f"{ARTIFACTS}/{path}"), 400, "INVALID_PARAMETER_VALUE")
    mlflow_error(client.delete(f"{ARTIFACTS}/{path}"), 400, "INVALID_PARAMETER_VALUE")
    assert chunk_count() == before


@pytest.mark.parametrize("path", ["../etc", "/etc", "0/../..", "a//b"])
def test_listing_refuses_escaping_paths(client: TestClient, path: str) -> None:
    mlflow_error(client.get(ARTIFACTS, params={"path": path}), 400, "INVALID_PARAMETER_VALUE")


def test_30_mib_round_trip_and_dedup(client: TestClient, root: str, chunk_count: Callable[[], int]) -> None:
    data = os.urandom(30 * MiB)
    before = chunk_count()
    assert put(client, f"{root}/model/weights.bin", data).status_code == 200
    stored = chunk_count() - before
    assert stored >= 8  # content-defined chunks of about 1 MiB
    got = client.get(f"{ARTIFACTS}/{root}/model/weights.bin")
    assert got.status_code == 200 and got.headers["etag"] == etag(data)
    assert got.headers["content-length"] == str(len(data)) and got.content == data
    # The same bytes again, at another path (a second run logging unchanged weights): no new chunk.
    experiment_id, _, _ = root.split("/")
    other = create_run(client, experiment_id)["info"]["run_id"]
    assert put(client, f"{experiment_id}/{other}/artifacts/model/weights.bin", data).status_code == 200
    assert chunk_count() - before == stored
    copy = client.get(f"{ARTIFACTS}/{experiment_id}/{other}/artifacts/model/weights.bin")
    assert copy.content == data


@pytest.fixture
def limited_app(database: str, storage_url: str) -> Iterator[FastAPI]:
    """The app with a 1 MiB artifact limit (the JSON limit stays 32 MiB: the two are independent)."""
    metadata, chunks = open_stores(database, storage=storage_url)
    registry = Registry(metadata, chunks, actor=Actor("server", role="none"))
    yield create_app(registry, limits=Limits(max_artifact_bytes=MiB, max_json_bytes=1024))
    metadata.close()


def test_artifact_uploads_have_their_own_limit(limited_app: FastAPI, client: TestClient, root: str) -> None:
    with TestClient(limited_app) as limited:
        fits = os.urandom(MiB)  # far over the 1 KiB JSON limit: artifact PUTs are not JSON bodies
        assert put(limited, f"{root}/fits.bin", fits).status_code == 200
        assert limited.get(f"{ARTIFACTS}/{root}/fits.bin").content == fits
        declared = put(limited, f"{root}/big.bin", os.urandom(MiB + 1))
        mlflow_error(declared, 413, "INVALID_PARAMETER_VALUE")

        def pieces() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            for _ in range(3):
                yield os.urandom(MiB // 2)

        streamed = limited.put(f"{ARTIFACTS}/{root}/streamed.bin", content=pieces())
        mlflow_error(streamed, 413, "INVALID_PARAMETER_VALUE")
        for refused in ("big.bin", "streamed.bin"):
            mlflow_error(limited.get(f"{ARTIFACTS}/{root}/{refused}"), 404, "RESOURCE_DOES_NOT_EXIST")
        json_limit = limited.post(f"{API}/experiments/create", json={"name": "x" * 2000})
        mlflow_error(json_limit, 413, "INVALID_PARAMETER_VALUE")
    assert listing(client, root) == {"files": [{"path": "fits.bin", "is_dir": False, "file_size": MiB}]}


def test_a_client_leaving_mid_upload_stores_nothing(
    make_app: Callable[..., FastAPI], client: TestClient, root: str
) -> None:
    """The ASGI exchange a server has with a client that sends part of a body, then disconnects."""
    path = f"{ARTIFACTS}/{root}/model/weights.bin"
    incoming: list[Message] = [
        {"type": "http.request", "body": os.urandom(MiB), "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "PUT", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "state": {},
        "headers": [(b"host", b"testserver"), (b"content-length", str(8 * MiB).encode())],
        "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
    }  # fmt: skip
    app = make_app()
    with TestClient(app):  # runs the app's lifespan, so its database pool is closed afterwards
        anyio.run(app, scope, receive, send)
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 499
    mlflow_error(client.get(path), 404, "RESOURCE_DOES_NOT_EXIST")
    assert listing(client, root) == {}


def _peak_rss(pid: int) -> int:
    """The process's peak resident set (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/<pid>/status")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the server's peak RSS from /proc")
def test_a_real_server_streams_uploads_without_holding_them(tmp_path: Path) -> None:
    """192 MiB through a real ``modelreg serve`` (uvicorn, a socket, a body without Content-Length): the
    server's peak memory grows by far less than the file, and the file comes back intact."""
    registry = [
        "--registry",
        f"sqlite:///{tmp_path / 'registry.db'}",
        "--storage",
        f"file://{tmp_path / 'chunks'}",
    ]
    server = start(registry)
    try:
        with httpx.Client(base_url=server.url, timeout=120) as http:
            experiment_id = ok(http.post(f"{API}/experiments/create", json={"name": "big"}))["experiment_id"]
            run = ok(http.post(f"{API}/runs/create", json={"experiment_id": experiment_id}))["run"]
            path = f"{experiment_id}/{run['info']['run_id']}/artifacts/model/weights.bin"
            digest = hashlib.sha256()
            size = 192 * MiB

            def body() -> Iterator[bytes]:
                for _ in range(size // MiB):
                    piece = os.urandom(MiB)
                    digest.update(piece)
                    yield piece

            before = _peak_rss(server.process.pid)
            assert http.put(f"{ARTIFACTS}/{path}", content=body()).status_code == 200
            growth = _peak_rss(server.process.pid) - before
            # Buffers of fixed size (the chunker's window, chunks in flight) cost ~70 MiB; a held body, 192.
            assert growth < 128 * MiB, f"the server's peak RSS grew by {growth / MiB:.0f} MiB for 192 MiB"
            received = hashlib.sha256()
            with http.stream("GET", f"{ARTIFACTS}/{path}") as download:
                assert download.status_code == 200 and download.headers["content-length"] == str(size)
                for piece in download.iter_bytes():
                    received.update(piece)
            assert received.hexdigest() == digest.hexdigest()
            assert download.headers["etag"] == f'"{digest.hexdigest()}"'
    finally:
        server.stop()


def test_registry_namespace_serves_a_versions_files(
    client: TestClient, seeded: ModelVersion, model_dir: Path
) -> None:
    assert listing(client, "registry/churn/1") == {
        "files": [
            {"path": "config.json", "is_dir": False, "file_size": 13},
            {"path": "sub", "is_dir": True},
            {"path": "weights.bin", "is_dir": False, "file_size": 3_000_000},
        ]
    }
    assert listing(client, "registry/churn/1/sub") == {
        "files": [{"path": "vocab.txt", "is_dir": False, "file_size": 6}]
    }
    assert listing(client, "registry/churn/1/config.json") == {}
    weights = (model_dir / "weights.bin").read_bytes()
    got = client.get(f"{ARTIFACTS}/registry/churn/1/weights.bin")
    assert got.status_code == 200 and got.content == weights
    assert got.headers["etag"] == etag(weights) and got.headers["content-length"] == "3000000"
    assert client.get(f"{ARTIFACTS}/registry/churn/1/sub/vocab.txt").content == b"a\nb\nc\n"


def test_registry_namespace_errors_and_read_only(client: TestClient, seeded: ModelVersion) -> None:
    mlflow_error(client.get(f"{ARTIFACTS}/registry/churn/1/nope.bin"), 404, "RESOURCE_DOES_NOT_EXIST")
    mlflow_error(client.get(f"{ARTIFACTS}/registry/churn/1/sub"), 400, "INVALID_PARAMETER_VALUE")
    mlflow_error(client.get(f"{ARTIFACTS}/registry/churn/7/config.json"), 404, "RESOURCE_DOES_NOT_EXIST")
    mlflow_error(client.get(f"{ARTIFACTS}/registry/nope/1/config.json"), 404, "RESOURCE_DOES_NOT_EXIST")
    mlflow_error(client.get(ARTIFACTS, params={"path": "registry/nope/1"}), 404, "RESOURCE_DOES_NOT_EXIST")
    for malformed in ("registry", "registry/churn", "registry/churn/latest", "registry/churn/0"):
        mlflow_error(client.get(ARTIFACTS, params={"path": malformed}), 400, "INVALID_PARAMETER_VALUE")
    write = client.put(f"{ARTIFACTS}/registry/churn/1/config.json", content=b"{}")
    mlflow_error(write, 400, "INVALID_PARAMETER_VALUE")
    mlflow_error(
        client.put(f"{ARTIFACTS}/registry/churn/1/new.txt", content=b"x"), 400, "INVALID_PARAMETER_VALUE"
    )
    mlflow_error(client.delete(f"{ARTIFACTS}/registry/churn/1/config.json"), 400, "INVALID_PARAMETER_VALUE")
    assert client.get(f"{ARTIFACTS}/registry/churn/1/config.json").json() == {"layers": 3}


def test_artifact_permissions(client: TestClient, root: str, secrets: Secrets, seeded: ModelVersion) -> None:
    viewer, contributor = bearer(secrets["viewer"]), bearer(secrets["contributor"])
    assert put(client, f"{root}/by-contributor.txt", b"c", headers=contributor).status_code == 200
    mlflow_error(put(client, f"{root}/by-viewer.txt", b"v", headers=viewer), 403, "PERMISSION_DENIED")
    mlflow_error(
        client.delete(f"{ARTIFACTS}/{root}/by-contributor.txt", headers=viewer), 403, "PERMISSION_DENIED"
    )
    assert client.get(f"{ARTIFACTS}/{root}/by-contributor.txt", headers=viewer).content == b"c"
    assert listing(client, root, headers=viewer) == {
        "files": [{"path": "by-contributor.txt", "is_dir": False, "file_size": 1}]
    }
    assert client.get(f"{ARTIFACTS}/registry/churn/1/config.json", headers=viewer).json() == {"layers": 3}
    mlflow_error(client.get(f"{ARTIFACTS}/{root}/by-contributor.txt"), 401, "UNAUTHENTICATED")
