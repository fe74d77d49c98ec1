"""Shared fixtures: real SQLite files, a real PostgreSQL (a fresh schema per test), real chunk stores.

PostgreSQL is never skipped: when it cannot be reached the tests that need it fail, so a CI run without
it is red. Point ``MODELREG_TEST_POSTGRES_URL`` elsewhere if it does not run at the default address.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy
from fastapi import Request
from fastapi.testclient import TestClient

import modelreg
from modelreg.access import Actor
from modelreg.client.client import Client
from modelreg.registry.service import Registry
from tests.clock import Clock

POSTGRES_URL = os.environ.get("MODELREG_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
SDKS = ["embedded", "http"]  # the two implementations of the one SDK interface (DESIGN §2)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """On an xdist worker with ``--dist loadgroup``: a test marked ``xdist_group`` that lost its group fails.

    xdist appends "@<group>" to the node ids of grouped tests. Such modules start expensive servers once
    per worker; pytest 9.2 broke the grouping without a word (pytest-dev/pytest-xdist#1386) and the suite
    took a quarter longer. Never silently again.
    """
    grouped = getattr(item.config.option, "loadgroup", False) and item.get_closest_marker("xdist_group")
    if grouped and "@" not in item.nodeid:
        pytest.fail(
            "--dist loadgroup did not group this test marked xdist_group: this pytest and pytest-xdist do "
            "not work together (see the pytest pin in pyproject.toml)",
            pytrace=False,
        )


def _admin_engine() -> sqlalchemy.Engine:
    return sqlalchemy.create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1))


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a brand-new schema, dropped after the test."""
    schema = f"mr_{secrets.token_hex(6)}"
    engine = _admin_engine()
    try:
        with engine.begin() as connection:
            connection.execute(sqlalchemy.text(f'CREATE SCHEMA "{schema}"'))
    except sqlalchemy.exc.OperationalError as error:
        pytest.fail(f"PostgreSQL is required at {POSTGRES_URL} and could not be reached: {error}")
    separator = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


@pytest.fixture
def clock() -> Clock:
    """A registry clock the test moves by hand."""
    return Clock()


@pytest.fixture(params=DATABASES)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A metadata database URL: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def storage_url(tmp_path: Path) -> str:
    return f"file://{tmp_path / 'chunks'}"


@pytest.fixture(params=SDKS)
def reg(request: pytest.FixtureRequest, database: str, storage_url: str, tmp_path: Path) -> Iterator[Client]:
    """The SDK on each database, acting as 'alice': embedded, and over HTTP through the real API app.

    The HTTP variant serves ``modelreg.api`` in-process over the same stores, with a pull cache as
    ``modelreg.connect("http://…")`` has. Its caller is 'alice' too, so results compare alike; token
    authentication is the subject of ``tests/functional/test_http.py`` (real ``modelreg serve`` processes).
    """
    with contextlib.ExitStack() as stack:
        if request.param == "embedded":
            client = modelreg.connect(database, storage=storage_url, actor="alice")
        else:
            client = _http_sdk(stack, database, storage_url, tmp_path)
        with client:
            yield client


def _http_sdk(stack: contextlib.ExitStack, database: str, storage_url: str, tmp_path: Path) -> Client:
    from modelreg.api import create_app
    from modelreg.api.auth import caller_registry
    from modelreg.client.http import HttpBackend
    from modelreg.connection import open_stores
    from modelreg.transfer.cache import ChunkCache

    metadata, chunks = open_stores(database, storage=storage_url)
    app = create_app(Registry(metadata, chunks, actor=Actor("server", role="none")), on_close=metadata.close)
    app.dependency_overrides[caller_registry] = _as_alice
    # Entered: one event loop then serves every thread of a push or pull, and the app's lifespan runs.
    # A failure after the response started cuts the body short, as a real server's connection would.
    testing = TestClient(app, base_url="http://testserver", raise_server_exceptions=False)
    in_process = stack.enter_context(testing)
    http = stack.enter_context(httpx.Client(transport=_InProcess(in_process)))
    backend = HttpBackend("http://testserver", client=http, retries=0)
    return Client(backend, cache=ChunkCache(tmp_path / "http-cache"), location="http://testserver")


def _as_alice(request: Request) -> Registry:
    """Stands in for the API's ``caller_registry`` dependency: every request acts as 'alice'."""
    registry: Registry = request.app.state.registry
    return registry.as_actor(Actor("alice", role="admin"))


class _InProcess(httpx.BaseTransport):
    """An httpx transport into an ASGI app in this process. Starlette's ``TestClient`` runs the app (one
    event loop, lifespan) but is an ``httpx2`` client, so requests and answers are carried across here."""

    def __init__(self, app: TestClient) -> None:
        self._app = app

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        answer = self._app.request(
            request.method, str(request.url), headers=request.headers.multi_items(), content=request.read()
        )
        headers = answer.headers.multi_items()
        if len(answer.content) < int(answer.headers.get("content-length", 0)):  # failed once it had started
            return httpx.Response(answer.status_code, headers=headers, stream=CutShort(answer.content))
        return httpx.Response(answer.status_code, headers=headers, content=answer.content)


class CutShort(httpx.SyncByteStream):
    """A body the app stopped sending part way (it failed after the response started): what arrived, then
    the error a client of a real server gets when the connection closes early."""

    def __init__(self, received: bytes) -> None:
        self._received = received

    def __iter__(self) -> Iterator[bytes]:
        yield self._received
        raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    """A small model directory: a 3 MB weights file, a config and a nested file."""
    root = tmp_path / "model"
    (root / "sub").mkdir(parents=True)
    (root / "weights.bin").write_bytes(os.urandom(3_000_000))
    (root / "config.json").write_text('{"layers": 3}')
    (root / "sub" / "vocab.txt").write_text("a\nb\nc\n")
    return root


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` by relative path, for comparing a pull with what was pushed."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# S3: one moto server (an S3-protocol server) per test session, on loopback, and a fresh bucket per test.
# A child process rather than moto's in-process thread: its threads then neither compete with the tests for
# the GIL nor run under pytest's warnings-as-errors, and it exits when its stdin closes, even if we die.
_MOTO_SERVER = """
import sys
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()
server.stop()
"""


# moto stores any body under any x-amz-checksum-sha256 (and keeps the claimed value as the object's
# checksum); S3 refuses a mismatch with 400 BadDigest and keeps the checksum it computed. This variant does
# what S3 documents, so the direct-transfer paths that rely on it (tests/functional/test_direct.py) run too.
STRICT_CHECKSUMS = (Path(__file__).parent / "moto_strict_checksums.py").read_text()


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``http://127.0.0.1:<port>`` of this session's S3 server (one per xdist worker); its log is kept."""
    yield from _moto(tmp_path_factory, "")


@pytest.fixture(scope="session")
def strict_s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Another moto server, which verifies x-amz-checksum-sha256 as S3 does (``STRICT_CHECKSUMS``)."""
    yield from _moto(tmp_path_factory, STRICT_CHECKSUMS)


def _moto(tmp_path_factory: pytest.TempPathFactory, patch: str) -> Iterator[str]:
    log = tmp_path_factory.mktemp("moto") / "server.log"
    with log.open("w") as stderr:
        server = subprocess.Popen(
            [sys.executable, "-c", patch + _MOTO_SERVER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    assert server.stdin is not None and server.stdout is not None
    try:
        port = server.stdout.readline().strip()
        if not port.isdigit():
            pytest.fail(f"the moto S3 server did not start:\n{log.read_text()}")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stdin.close()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        server.stdout.close()


@pytest.fixture(scope="session")
def s3_client(s3_endpoint: str) -> Any:
    """An S3 client for that server, built as ``open_chunk_store`` builds one, with dummy credentials."""
    import boto3

    from modelreg.blobs.s3 import make_client

    credentials = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    return make_client(endpoint_url=s3_endpoint, session=credentials)


@pytest.fixture
def s3_bucket(s3_client: Any) -> str:
    """A new, empty bucket on the session's S3 server."""
    name = f"modelreg-test-{secrets.token_hex(6)}"
    s3_client.create_bucket(Bucket=name)
    return name
