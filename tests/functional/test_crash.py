"""A push killed with SIGKILL at any point registers nothing, and the next push picks up where it died.

DESIGN §4 invariant 1: a version is fully committed or does not exist; a crash loses nothing committed.
The child is a real process pushing a 200 MiB incompressible file; it is killed while its chunks are being
uploaded, at three points of the upload (early, middle, late), each attempt resuming the previous one's.
"""

from __future__ import annotations

import filecmp
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import modelreg
from modelreg.client.client import Client
from tests.conftest import tree_bytes

WORKERS = Path(__file__).with_name("workers.py")
BIG = 200 * 1024 * 1024
# Kill points, in chunks published by the killed pushes so far. The file cuts into ~200 chunks of ~1 MiB;
# the last window ends ~100 chunks before that, so the push is unlikely to finish uploading between the poll
# and the kill even when this process is starved of CPU (a full suite on 2 cores: measured, a push ran 58
# chunks further while the poller waited). If it does, the resume below has nothing left to upload.
KILL_WINDOWS = [(1, 20), (40, 70), (80, 110)]


def write_random_file(path: Path, size: int) -> str:
    """Random bytes (nothing to compress or dedup) at ``path``; returns their ``sha256:`` digest."""
    path.parent.mkdir(parents=True, exist_ok=True)
    hasher, block = hashlib.sha256(), 8 * 1024 * 1024
    with open(path, "wb") as handle:
        for start in range(0, size, block):
            data = os.urandom(min(block, size - start))
            hasher.update(data)
            handle.write(data)
    return "sha256:" + hasher.hexdigest()


def published_chunks(store: Path) -> list[Path]:
    """Chunk files under ``<root>/sha256/ab/cd/`` (temp files of interrupted puts live in ``tmp/``)."""
    return [path for path in store.glob("sha256/*/*/*") if path.is_file()]


def start_push(database: str, storage_url: str, name: str, path: Path) -> subprocess.Popen[str]:
    spec = {"target": database, "storage": storage_url, "name": name, "path": str(path)}
    return subprocess.Popen(
        [sys.executable, "-W", "error", str(WORKERS), "push", json.dumps(spec)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_when_published(child: subprocess.Popen[str], store: Path, count: int) -> int:
    """SIGKILL ``child`` once ``count`` chunks are published; returns how many there were at the kill."""
    deadline = time.monotonic() + 120
    while (seen := len(published_chunks(store))) < count:
        if child.poll() is not None:
            _, err = child.communicate()
            pytest.fail(f"the push exited ({child.returncode}) before it could be killed: {err[-2000:]}")
        assert time.monotonic() < deadline, f"only {seen} of {count} chunks appeared"
        time.sleep(0.002)
    os.kill(child.pid, signal.SIGKILL)
    child.communicate()
    assert child.returncode == -signal.SIGKILL, "the push finished before the kill landed"
    return seen


def assert_every_chunk_intact(store: Path) -> None:
    """A published chunk name only ever points at its complete bytes, even after a kill mid-write."""
    for path in published_chunks(store):
        assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name, path


@pytest.fixture
def reg(database: str, storage_url: str) -> Iterator[Client]:
    """In-process, like the child it watches: the kill is the subject here, not the SDK transport."""
    with modelreg.connect(database, storage=storage_url, actor="survivor") as client:
        yield client


@pytest.mark.slow
def test_push_killed_mid_upload_registers_nothing(
    reg: Client, database: str, storage_url: str, model_dir: Path, tmp_path: Path
) -> None:
    store = Path(storage_url.removeprefix("file://"))
    before = reg.push("crashy", model_dir)
    baseline = len(published_chunks(store))
    big = tmp_path / "big" / "weights.bin"
    big_digest = write_random_file(big, BIG)
    seed = random.randrange(2**32)
    pick = random.Random(seed)

    for low, high in KILL_WINDOWS:
        at = baseline + pick.randint(low, high)
        seen = kill_when_published(start_push(database, storage_url, "crashy", big), store, at)
        context = f"seed {seed}: killed at {seen - baseline} chunks"
        assert [v.version for v in reg.list_versions("crashy")] == [1], context
        current = reg.get_version("crashy")
        assert (current.version, current.digest) == (1, before.digest), context
        assert reg.get_model("crashy").latest_version == 1, context
        assert_every_chunk_intact(store)

    pulled = reg.pull("crashy", dest=tmp_path / "before")
    assert tree_bytes(Path(pulled)) == tree_bytes(model_dir)

    resumed = len(published_chunks(store)) - baseline  # chunks the killed pushes left behind, all reusable
    after = reg.push("crashy", big)
    assert after.version == 2
    assert [(f.path, f.size, f.digest) for f in after.files] == [("weights.bin", BIG, big_digest)]
    stats = reg.last_push
    assert stats is not None
    remaining = stats.chunks_total - resumed
    assert stats.chunks_stored == remaining, f"seed {seed}"  # only what the killed pushes did not store
    assert (0 < stats.bytes_stored < BIG) if remaining else stats.bytes_stored == 0, f"seed {seed}"
    assert [v.version for v in reg.list_versions("crashy")] == [2, 1]
    assert reg.get_version("crashy").digest == after.digest

    dest = Path(reg.pull("crashy/2", dest=tmp_path / "after"))
    assert sorted(p.name for p in dest.iterdir()) == ["weights.bin"]
    assert filecmp.cmp(dest / "weights.bin", big, shallow=False)
    assert_every_chunk_intact(store)
