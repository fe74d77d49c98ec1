"""The HTTP SDK against real ``modelreg serve`` processes on loopback: real sockets, real databases, no mocks.

DESIGN §3 (transfer protocol) and §4 (invariants) over the network: a round trip through ``connect("http://…")``;
two server processes on one PostgreSQL with concurrent pushers spread over both (gap-free numbers, one view);
a pushing client killed with SIGKILL, then resumed (only missing chunks travel, the result is the clean
push's); bad chunk bodies and commits over missing chunks refused with nothing stored; idempotent commits.
"""

from __future__ import annotations

import filecmp
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

import modelreg
from modelreg import errors
from modelreg.client.http import HttpBackend
from modelreg.digest import sha256_bytes
from modelreg.registry.manifest import ChunkRef, FileRecord, Manifest
from tests.conftest import tree_bytes

BIN = Path(sys.executable).parent
BIG = 200 * 1024 * 1024
CHUNK_ROUTE = "/api/v1/chunks"  # pushes upload in batches


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def metric(self, name: str, **labels: str) -> float:
        """One Prometheus sample from this process's /metrics (0 when the series does not exist yet)."""
        text = httpx.get(f"{self.url}/metrics", timeout=10).text
        wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
        match = re.search(rf"^{re.escape(name)}\{{{re.escape(wanted)}\}} (\S+)$", text, re.MULTILINE)
        return float(match.group(1)) if match else 0.0


Serve = Callable[[str, str], Server]


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTP clients cache pulls in ~/.cache/modelreg by default: keep these tests out of the home dir."""
    monkeypatch.setenv("MODELREG_CACHE_DIR", str(tmp_path / "client-cache"))
    monkeypatch.delenv("MODELREG_TOKEN", raising=False)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    """Start ``modelreg serve`` processes on free loopback ports; all are stopped after the test."""
    servers: list[Server] = []

    def start(database: str, storage: str) -> Server:
        server = _start_server(database, storage, tmp_path / f"server-{len(servers)}.log")
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.process.send_signal(signal.SIGTERM)
    for server in servers:
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


def _start_server(database: str, storage: str, log: Path) -> Server:
    with socket.socket() as probe:  # a free port; the tiny window before serve binds it is acceptable
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {key: value for key, value in os.environ.items() if not key.startswith("MODELREG_")}
    command = [str(BIN / "modelreg"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--database-url", database, "--storage-url", storage]
    with open(log, "wb") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"modelreg serve exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{server.url}/readyz", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    process.kill()
    pytest.fail(f"modelreg serve never became ready:\n{log.read_text()[-3000:]}")


def published_chunks(store: Path) -> list[Path]:
    """Chunk files of a file:// store (``sha256/ab/cd/<hex>``; interrupted writes live in ``tmp/``)."""
    return [path for path in store.glob("sha256/*/*/*") if path.is_file()]


def settled_chunks(store: Path) -> list[Path]:
    """The published chunks once the server has finished any upload that was in flight."""
    seen = -1
    while len(chunks := published_chunks(store)) != seen:
        seen = len(chunks)
        time.sleep(0.5)
    return chunks


def write_random_file(path: Path, size: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        for start in range(0, size, 8 << 20):
            handle.write(os.urandom(min(8 << 20, size - start)))  # incompressible, nothing to dedup
    return path


# -----------------------------------------------------------------------------------------------------------
def test_push_and_pull_a_directory_through_a_server(serve: Serve, model_dir: Path, tmp_path: Path) -> None:
    server = serve(f"sqlite:///{tmp_path / 'registry.db'}", f"file://{tmp_path / 'chunks'}")
    with modelreg.connect(server.url) as reg:
        assert reg.location == server.url
        pushed = reg.push("churn", model_dir, metrics={"auc": 0.91}, aliases=["champion"])
        assert (pushed.version, pushed.created_by, pushed.aliases) == (1, "anonymous", ("champion",))
        assert reg.last_push is not None and reg.last_push.bytes_stored == reg.last_push.bytes_total

        dest = Path(reg.pull("churn@champion", dest=tmp_path / "deploy"))
        assert tree_bytes(dest) == tree_bytes(model_dir)
        assert reg.last_pull is not None and reg.last_pull.bytes_fetched == reg.last_pull.bytes_total
        reg.pull("churn/1", dest=tmp_path / "again")  # the local cache has every chunk now
        assert reg.last_pull.bytes_fetched == 0 and tree_bytes(tmp_path / "again") == tree_bytes(model_dir)
        assert any((tmp_path / "client-cache" / "files").iterdir())

        again = reg.push("churn", model_dir)  # unchanged files: no chunk moves
        assert (again.version, again.digest, reg.last_push.bytes_stored) == (2, pushed.digest, 0)
    with modelreg.connect(server.url) as other:  # another client sees the same registry
        assert other.get_version("churn@champion") == pushed


@pytest.mark.postgres
@pytest.mark.slow
def test_two_servers_on_one_postgres_number_concurrent_pushes_without_gaps(
    serve: Serve, postgres_url: str, tmp_path: Path
) -> None:
    storage = f"file://{tmp_path / 'chunks'}"
    first = serve(postgres_url, storage)  # migrates the fresh schema before the second one starts
    second = serve(postgres_url, storage)
    pushers, each = 8, 5
    barrier = threading.Barrier(pushers)

    def pusher(worker: int) -> list[int]:
        source = tmp_path / f"worker-{worker}" / "model.bin"
        source.parent.mkdir()
        numbers = []
        with modelreg.connect((first, second)[worker % 2].url) as reg:
            barrier.wait(timeout=60)
            for seq in range(each):
                source.write_bytes(f"worker {worker} push {seq}\n".encode() + os.urandom(4096))
                numbers.append(reg.push("shared", source, tags={"worker": str(worker)}).version)
        return numbers

    with ThreadPoolExecutor(pushers) as pool:
        results = list(pool.map(pusher, range(pushers)))
    assert sorted(n for numbers in results for n in numbers) == list(range(1, pushers * each + 1))
    assert all(numbers == sorted(numbers) for numbers in results)  # each pusher's own pushes in order

    with modelreg.connect(first.url) as via_first, modelreg.connect(second.url) as via_second:
        listed = via_first.list_versions("shared", limit=1000).items
        assert [v.version for v in listed] == list(range(pushers * each, 0, -1))
        assert via_second.list_versions("shared", limit=1000).items == listed
        via_first.set_alias("shared", "champion", 7)
        via_first.set_alias("shared", "champion", 12)
        via_first.set_alias("shared", "candidate", 40)
        assert via_second.get_version("shared@champion") == via_first.get_version("shared/12")
        assert via_second.get_model("shared").aliases == {"champion": 12, "candidate": 40}
        history = via_second.alias_history("shared", "champion")
        assert history == via_first.alias_history("shared", "champion")
        assert [(h.version, h.until is None) for h in history] == [(7, False), (12, True)]


@pytest.mark.slow
def test_a_push_killed_halfway_resumes_sending_only_missing_chunks(serve: Serve, tmp_path: Path) -> None:
    store = tmp_path / "chunks"
    server = serve(f"sqlite:///{tmp_path / 'registry.db'}", f"file://{store}")
    big = write_random_file(tmp_path / "model" / "weights.bin", BIG)
    child = subprocess.Popen(
        [
            sys.executable,
            "-W",
            "error",
            "-c",
            "import modelreg, sys; modelreg.connect(sys.argv[1]).push('big', sys.argv[2])",
            server.url,
            str(big),
        ],
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while len(published_chunks(store)) < 100:  # of about 200: halfway
        if child.poll() is not None:
            pytest.fail(
                f"the push ended ({child.returncode}) before the kill: {child.communicate()[1][-2000:]!r}"
            )
        assert time.monotonic() < deadline, "the push never got halfway"
        time.sleep(0.005)
    os.kill(child.pid, signal.SIGKILL)
    child.communicate()
    assert child.returncode == -signal.SIGKILL

    uploaded = settled_chunks(store)
    uploaded_bytes = sum(path.stat().st_size for path in uploaded)
    assert BIG * 0.3 < uploaded_bytes < BIG * 0.9
    received_before = server.metric("modelreg_http_received_bytes_total", route=CHUNK_ROUTE)
    with modelreg.connect(server.url) as reg:
        with pytest.raises(errors.ModelNotFound):  # the killed push registered nothing
            reg.get_model("big")
        resumed = reg.push("big", big)
        stats = reg.last_push
        assert stats is not None and resumed.version == 1
        assert stats.bytes_stored == BIG - uploaded_bytes  # exactly the chunks the server lacked
        assert stats.chunks_stored == stats.chunks_total - len(uploaded)
        received = server.metric("modelreg_http_received_bytes_total", route=CHUNK_ROUTE) - received_before
        assert received == BIG - uploaded_bytes  # on the wire too: nothing sent twice
        pulled = Path(reg.pull("big", dest=tmp_path / "pulled"))
    assert filecmp.cmp(pulled / "weights.bin", big, shallow=False)
    with modelreg.connect(tmp_path / "clean") as clean:  # the same file pushed cleanly, elsewhere
        assert clean.push("big", big).digest == resumed.digest


def test_a_chunk_whose_body_does_not_match_its_digest_is_refused_and_not_stored(
    serve: Serve, tmp_path: Path
) -> None:
    store = tmp_path / "chunks"
    server = serve(f"sqlite:///{tmp_path / 'registry.db'}", f"file://{store}")
    claimed = sha256_bytes(b"the real bytes")
    with closing(HttpBackend(server.url)) as backend:
        good = sha256_bytes(b"a good chunk")
        with pytest.raises(errors.DigestMismatch) as caught:  # one bad chunk: none of the batch is stored
            backend.put_chunks([(good, b"a good chunk"), (claimed, b"other bytes")])
        assert caught.value.code == "DIGEST_MISMATCH" and caught.value.details["digest"] == claimed
        assert backend.missing_chunks([good, claimed]) == [good, claimed]
        assert published_chunks(store) == []
        assert backend.put_chunks([(claimed, memoryview(b"the real bytes")), (good, b"a good chunk")]) == [
            True,
            True,
        ]
        # Already there: nothing written; a chunk named twice in one batch is stored once.
        again = [(claimed, b"the real bytes"), (good, b"a good chunk"), (good, b"a good chunk")]
        assert backend.put_chunks(again) == [False, False, False]
        assert backend.missing_chunks([claimed, good]) == []


def test_a_commit_referencing_a_missing_chunk_fails_and_creates_nothing(serve: Serve, tmp_path: Path) -> None:
    server = serve(f"sqlite:///{tmp_path / 'registry.db'}", f"file://{tmp_path / 'chunks'}")
    stored, lost = b"stored chunk", b"never uploaded"
    manifest = Manifest.build(
        [
            FileRecord(
                "w.bin",
                len(stored + lost),
                sha256_bytes(stored + lost),
                (ChunkRef(sha256_bytes(stored), len(stored)), ChunkRef(sha256_bytes(lost), len(lost))),
            )
        ]
    )
    with closing(HttpBackend(server.url)) as backend:
        backend.put_chunks([(sha256_bytes(stored), stored)])
        with pytest.raises(errors.ChunkNotFound) as caught:
            backend.commit_version("m", manifest, idempotency_key="attempt-1")
        assert caught.value.details["missing"] == [sha256_bytes(lost)]
        with pytest.raises(errors.ModelNotFound):
            backend.get_model("m")
        assert backend.list_models().items == []
        backend.put_chunks([(sha256_bytes(lost), lost)])  # the client uploads what was missing, commits again
        assert backend.commit_version("m", manifest, idempotency_key="attempt-1").version == 1


class _LoseFirstCommitAnswer(httpx.HTTPTransport):
    """A real connection whose first version-commit answer is lost after the server has committed."""

    def __init__(self) -> None:
        super().__init__()
        self.commits: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if request.method == "POST" and request.url.path.endswith("/versions"):
            self.commits.append(request.headers["Idempotency-Key"])
            if len(self.commits) == 1:
                response.read()
                response.close()
                raise httpx.ReadError("connection reset after the commit")
        return response


def test_a_commit_whose_answer_is_lost_is_retried_into_the_first_version(
    serve: Serve, model_dir: Path, tmp_path: Path
) -> None:
    server = serve(f"sqlite:///{tmp_path / 'registry.db'}", f"file://{tmp_path / 'chunks'}")
    transport = _LoseFirstCommitAnswer()
    with (
        httpx.Client(transport=transport) as http,
        modelreg.Client(HttpBackend(server.url, client=http, backoff=0.01), location=server.url) as reg,
    ):
        version = reg.push("m", model_dir, metrics={"auc": 0.9})
        assert version.version == 1 and len(transport.commits) == 2
        assert transport.commits[0] == transport.commits[1]  # one key for the commit and its retry
        assert [v.version for v in reg.list_versions("m")] == [1]
        retry = reg.push("m", model_dir, metrics={"auc": 0.9}, idempotency_key="job-42")
        assert reg.push("m", model_dir, metrics={"auc": 0.9}, idempotency_key="job-42") == retry
        assert [v.version for v in reg.list_versions("m")] == [2, 1]
        with pytest.raises(errors.IdempotencyKeyReused):
            reg.push("m", model_dir, metrics={"auc": 0.1}, idempotency_key="job-42")


def test_tokens_end_anonymous_access(
    serve: Serve, model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = serve(f"sqlite:///{tmp_path / 'registry.db'}", f"file://{tmp_path / 'chunks'}")
    with modelreg.connect(server.url) as anonymous:
        secret = anonymous.create_token("ci", role="contributor").secret
        assert secret is not None and secret.startswith("mrt_")
        with pytest.raises(errors.AuthenticationRequired):
            anonymous.list_models()
    with modelreg.connect(server.url, token=secret) as ci:
        assert ci.push("m", model_dir).created_by == "token:ci"
        with pytest.raises(errors.PermissionDenied):
            ci.delete_version("m/1")
    monkeypatch.setenv("MODELREG_TOKEN", secret)
    with modelreg.connect(server.url) as from_environment:
        assert from_environment.get_version("m").created_by == "token:ci"
    with (
        modelreg.connect(server.url, token="mrt_" + "x" * 43) as wrong,
        pytest.raises(errors.AuthenticationRequired),
    ):
        wrong.get_model("m")


def test_connect_refuses_embedded_options_for_a_server() -> None:
    with pytest.raises(errors.InvalidInput, match="embedded"):
        modelreg.connect("http://127.0.0.1:9", storage="file:///tmp/chunks")
    with pytest.raises(errors.InvalidInput, match="embedded"):
        modelreg.connect("http://127.0.0.1:9", actor="alice")
