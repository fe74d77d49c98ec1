"""A real ``modelreg serve`` process on a free loopback port: the composition root, uvicorn, sockets, CLI."""

from __future__ import annotations

import json
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx
import pytest

MODELREG = str(Path(sys.executable).parent / "modelreg")


@dataclass
class Server:
    url: str
    process: subprocess.Popen[str]
    registry: list[str]  # the global options that name its registry, for CLI commands beside it

    def stop(self) -> tuple[str, str]:
        """Interrupt the server; its stdout (access log) and stderr."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.communicate()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start(registry: list[str], *options: str) -> Server:
    port = free_port()
    command = [MODELREG, *registry, "serve", "--port", str(port), *options]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    server = Server(f"http://127.0.0.1:{port}", process, registry)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            out, err = server.stop()
            pytest.fail(f"modelreg serve exited with {process.returncode}:\n{out}\n{err}")
        try:
            if httpx.get(server.url + "/healthz", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.1)
    server.stop()
    pytest.fail("modelreg serve did not answer /healthz within 60 s")


@pytest.fixture
def server(database: str, storage_url: str) -> Iterator[Server]:
    with_registry = ["--registry", database, "--storage", storage_url]
    running = start(with_registry)
    yield running
    running.stop()


def test_health_readiness_metrics_and_request_ids(server: Server) -> None:
    with httpx.Client(base_url=server.url) as http:
        health = http.get("/healthz", headers={"X-Request-ID": "probe-1"})
        assert health.json() == {"status": "ok"} and health.headers["x-request-id"] == "probe-1"
        assert http.get("/readyz").json() == {"status": "ready"}
        assert http.get("/api/v1/models").json() == {"items": [], "next_page_token": None}
        metrics = http.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    healthz = re.search(
        r'^modelreg_http_requests_total\{method="GET",route="/healthz",status="200"\} (\S+)$',
        metrics.text,
        re.MULTILINE,
    )
    assert healthz is not None and float(healthz.group(1)) >= 2  # the start-up probes and ours
    assert (
        'modelreg_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/readyz"'
        in metrics.text
    )
    out, err = server.stop()
    assert "anonymous access: no tokens exist; listening on loopback only" in err
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    probe = next(line for line in lines if line["request_id"] == "probe-1")
    assert (probe["method"], probe["route"], probe["status"]) == ("GET", "/healthz", 200)
    listing = next(line for line in lines if line["route"] == "/api/v1/models")
    assert listing["actor"] == "anonymous" and listing["ms"] > 0


def test_a_token_created_beside_the_server_closes_anonymous_access(server: Server) -> None:
    assert httpx.get(server.url + "/api/v1/models").status_code == 200
    created = subprocess.run(
        [MODELREG, *server.registry, "token", "create", "--name", "ci", "--role", "viewer"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    secret = created.stdout.strip()
    assert secret.startswith("mrt_") and "store the secret now" in created.stderr
    refused = httpx.get(server.url + "/api/v1/models")
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "AUTHENTICATION_REQUIRED"
    allowed = httpx.get(server.url + "/api/v1/models", headers={"Authorization": f"Bearer {secret}"})
    assert allowed.status_code == 200
    listed = subprocess.run(
        [MODELREG, *server.registry, "--json", "token", "list"],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert [token["name"] for token in json.loads(listed.stdout)] == ["ci"]


def test_refuses_a_public_address_without_tokens(tmp_path: Path) -> None:
    command = [MODELREG, "--registry", str(tmp_path / "reg"), "serve", "--host", "0.0.0.0", "--port", "1"]  # noqa: S104
    result = subprocess.run(command, check=False, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.startswith(
        "error: INVALID_INPUT: refusing to listen on 0.0.0.0: no API token exists"
    )
    assert "--insecure" in result.stderr


def test_keep_alive_latency_with_two_workers(tmp_path: Path) -> None:
    """TCP_NODELAY on accepted sockets: p50 ~1 ms, not ~40 ms of Nagle + delayed ACK (DESIGN §7)."""
    running = start(["--registry", str(tmp_path / "reg")], "--workers", "2")
    try:
        with httpx.Client(base_url=running.url) as http:  # one kept-alive connection
            for _ in range(20):
                http.get("/healthz")
            samples = []
            for _ in range(100):
                began = time.perf_counter()
                assert http.get("/healthz").status_code == 200
                samples.append(time.perf_counter() - began)
    finally:
        running.stop()
    assert statistics.median(samples) < 0.02, f"p50 {statistics.median(samples) * 1000:.1f} ms"
