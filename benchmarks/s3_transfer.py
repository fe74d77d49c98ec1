"""Push and pull of a 1 GiB model through ``modelreg serve`` against S3 on loopback, with and without direct
transfers: MB/s, and the API server process's CPU seconds per GiB moved.

    .venv/bin/python benchmarks/s3_transfer.py                 # 3 runs of each mode, ~10 minutes on 2 cores
    .venv/bin/python benchmarks/s3_transfer.py --size-mib 256 --modes proxied,direct-metadata-only

Every run starts from nothing: a fresh moto S3 server (a child process), a fresh registry directory (SQLite
metadata) served by a real ``modelreg serve`` subprocess with its chunks in ``s3://bench/chunks``, one
random (incompressible) file, then ``modelreg.connect(url).push`` and ``.pull`` (a fresh pull cache, so
every chunk is fetched). The server's CPU is read from ``/proc/<pid>/stat`` (user + system, the process
and any children) before and after each phase; the client and moto are not counted.

Modes (``--modes``):

- ``proxied``: chunk bytes go through the API server (``PUT /chunks/…``, ``GET …/chunks/…``).
- ``direct``: ``serve --direct-transfers``: bytes go to and from S3 through presigned URLs; the commit still
  re-hashes each new file (``MODELREG_VERIFY_FILE_DIGESTS``, on by default), reading it from S3.
- ``direct-metadata-only``: direct, with ``MODELREG_VERIFY_FILE_DIGESTS=false``: the server reads no chunk.
- ``direct-readback``: as ``direct-metadata-only`` on moto as shipped, which does not enforce the sha256
  a PUT carries, so the commit reads each new chunk back (``blobs/s3_presign.py``).

The first three run on moto patched to refuse a body that mismatches its ``x-amz-checksum-sha256`` and keep
the checksum it computed, as S3 does (``STRICT_CHECKSUMS``; the same patch as the tests' strict server):
commits then verify uploads with one HEAD each, as they would on AWS. moto is a pure-Python server sharing
the machine's 2 cores with the client and the server, so the MB/s are moto's limits, not S3's.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import modelreg
from _common import MB, REPO, Report, banner, parse_args, random_file, require, scratch_dir, summarise

GIB = 1024**3
MODES = ("proxied", "direct", "direct-metadata-only", "direct-readback")
BIN = Path(sys.executable).parent
TICKS = os.sysconf("SC_CLK_TCK")

STRICT_CHECKSUMS = (REPO / "tests" / "moto_strict_checksums.py").read_text()
MOTO = """
import sys
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()
server.stop()
"""
AWS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


def main() -> int:
    args = parse_args(__doc__ or "", runs=3, extra=_options)
    modes = args.modes.split(",")
    require(set(modes) <= set(MODES), f"--modes takes {', '.join(MODES)}")
    size = args.size_mib * 1024 * 1024
    banner(f"s3_transfer: {args.size_mib} MiB through modelreg serve ↔ moto, {args.runs} runs per mode")
    report = Report("s3_transfer", args.json)
    results: dict[str, dict[str, list[float]]] = {}
    with scratch_dir("s3-transfer") as root:
        model = root / "model"
        model.mkdir()
        random_file(model / "weights.bin", size)
        for mode in modes:
            figures: dict[str, list[float]] = {}
            for run in range(args.runs):
                for key, value in _run(mode, model, root / f"{mode}-{run}", size).items():
                    figures.setdefault(key, []).append(value)
                print(f"  {mode} run {run + 1}: " + _line(figures), flush=True)
            results[mode] = figures
    _report(report, results, size)
    report.note(
        "moto (pure Python), the API server and the client share this 2-CPU VM, which other work was "
        "also using while this ran: MB/s are moto's limits on a loaded machine; CPU seconds move less."
    )
    return report.finish()


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size-mib", type=int, default=1024, help="model size in MiB (default 1024)")
    parser.add_argument("--modes", default=",".join(MODES), help=f"comma-separated: {','.join(MODES)}")


def _run(mode: str, model: Path, work: Path, size: int) -> dict[str, float]:
    """One push and one pull from nothing; seconds and server CPU seconds of each."""
    work.mkdir()
    with (
        _moto(strict=mode != "direct-readback") as endpoint,
        _serve(mode, work, endpoint) as (url, pid),
        modelreg.connect(url, cache_dir=work / "cache") as client,
    ):
        before, started = _cpu(pid), time.perf_counter()
        client.push("bench", model)
        push_s, push_cpu = time.perf_counter() - started, _cpu(pid) - before
        require(client.last_push is not None and client.last_push.bytes_stored == size, "push stored all")
        before, started = _cpu(pid), time.perf_counter()
        client.pull("bench/1", dest=work / "out")
        pull_s, pull_cpu = time.perf_counter() - started, _cpu(pid) - before
        require(client.last_pull is not None and client.last_pull.bytes_fetched == size, "pull fetched all")
    require((work / "out" / "weights.bin").stat().st_size == size, "pulled file complete (sha256 checked)")
    return {"push_s": push_s, "push_cpu": push_cpu, "pull_s": pull_s, "pull_cpu": pull_cpu}


@contextlib.contextmanager
def _moto(*, strict: bool) -> Iterator[str]:
    code = (STRICT_CHECKSUMS if strict else "") + MOTO
    server = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert server.stdin is not None and server.stdout is not None
    try:
        port = server.stdout.readline().decode().strip()
        require(port.isdigit(), "moto started")
        endpoint = f"http://127.0.0.1:{port}"
        import boto3  # noqa: PLC0415 - only to create the bucket

        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=AWS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=AWS["AWS_SECRET_ACCESS_KEY"],
            region_name="us-east-1",
        )
        s3.create_bucket(Bucket="bench")
        yield endpoint
    finally:
        server.stdin.close()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        server.stdout.close()


@contextlib.contextmanager
def _serve(mode: str, work: Path, endpoint: str) -> Iterator[tuple[str, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MODELREG_", "AWS_"))}
    env |= AWS | {"MODELREG_S3_ENDPOINT_URL": endpoint}
    command = [str(BIN / "modelreg"), "--registry", str(work / "registry"), "serve", "--port", str(port)]
    command += ["--storage-url", "s3://bench/chunks"]
    if mode != "proxied":
        command.append("--direct-transfers")
    if mode in ("direct-metadata-only", "direct-readback"):
        env["MODELREG_VERIFY_FILE_DIGESTS"] = "false"
    log = work / "serve.log"
    with open(log, "wb") as sink:
        server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=sink)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, server, log)
        yield url, server.pid
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _wait_ready(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    import httpx  # noqa: PLC0415 - the SDK imports it anyway

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        require(server.poll() is None, f"modelreg serve exited:\n{log.read_text()[-2000:]}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise SystemExit(f"modelreg serve never became ready:\n{log.read_text()[-2000:]}")


def _cpu(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its live children (uvicorn workers, if any)."""
    total = 0.0
    for candidate in [pid, *_children(pid)]:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{candidate}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14, 15)
    return total


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def _line(figures: dict[str, list[float]]) -> str:
    last = {key: values[-1] for key, values in figures.items()}
    return (
        f"push {last['push_s']:.1f} s (server CPU {last['push_cpu']:.1f} s), "
        f"pull {last['pull_s']:.1f} s (server CPU {last['pull_cpu']:.1f} s)"
    )


def _report(report: Report, results: dict[str, dict[str, list[float]]], size: int) -> None:
    gib = size / GIB
    for mode, figures in results.items():
        for phase in ("push", "pull"):
            speed = summarise([size / MB / seconds for seconds in figures[f"{phase}_s"]])
            report.add(f"{mode}: {phase} MB/s", f"{speed.median:.0f}", speed.spread(".0f"))
            cpu = summarise([seconds / gib for seconds in figures[f"{phase}_cpu"]])
            report.add(f"{mode}: {phase} server CPU s/GiB", f"{cpu.median:.2f}", cpu.spread(".2f"))
    if "proxied" not in results:
        return
    baseline = {phase: summarise(results["proxied"][f"{phase}_cpu"]).median for phase in ("push", "pull")}
    for mode in (m for m in results if m != "proxied"):
        for phase in ("push", "pull"):
            ratio = baseline[phase] / max(summarise(results[mode][f"{phase}_cpu"]).median, 1e-9)
            report.add(
                f"{mode}: {phase} server CPU, proxied ÷ this",
                f"{ratio:.1f}×",
                target="≥ 10×" if mode == "direct-metadata-only" else "",
                ok=ratio >= 10 if mode == "direct-metadata-only" else None,
            )


if __name__ == "__main__":
    sys.exit(main())
