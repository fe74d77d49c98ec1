"""Garbage collection while pushes run: a collector sweeping in a loop never loses a committed chunk.

One thread applies garbage collection over and over with a grace period of 0 s, the harshest setting: no
chunk is protected by its age, so every chunk a push has uploaded but not yet committed is fair game, and
only the registry's leases, sweep rows and commit check stand between the collector and a broken version.
Meanwhile 8 threads push 200 versions of small files through the SDK. Pushes share content (a pool of
common files: the known-file and already-stored paths run) and some first leave their chunks as garbage
with a failed commit, then push them again (the leased path runs). Every push must succeed, retrying as the
SDK does; then every version must pull and verify byte for byte, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import modelreg
from modelreg import errors
from modelreg.client.client import Client
from modelreg.registry.audit import verify_chain
from modelreg.settings import Settings
from modelreg.types import GcReport, ModelVersion
from tests.conftest import tree_bytes

PUSHES = 200
THREADS = 8
MODELS = 10
SHARED = 12  # common files, each in about a sixth of the versions
HARSH = Settings(gc_grace_seconds=0)
GIVE_UPS = 20  # SDK-level push attempts that may end in CHUNK_BEING_COLLECTED before the last one


@pytest.fixture
def sources(tmp_path: Path) -> list[Path]:
    """One small directory per push: its own bytes, a file from the shared pool, and a config."""
    rng = random.Random(7)
    shared = [rng.randbytes(rng.randrange(20_000, 300_000)) for _ in range(SHARED)]
    roots = []
    for index in range(PUSHES):
        root = tmp_path / "src" / f"p{index:03d}"
        root.mkdir(parents=True)
        (root / "own.bin").write_bytes(os.urandom(rng.randrange(1_000, 120_000)))
        (root / "shared.bin").write_bytes(shared[index % SHARED])
        (root / "config.json").write_text(json.dumps({"push": index}))
        roots.append(root)
    return roots


class Collector:
    """Applies garbage collection in a loop on its own connection until told to stop."""

    def __init__(self, database: str, storage_url: str) -> None:
        self._client = modelreg.connect(database, storage=storage_url, actor="collector", settings=HARSH)
        self._stop = threading.Event()
        self.reports: list[GcReport] = []
        self._thread = threading.Thread(target=self._run, name="collector")

    def __enter__(self) -> Collector:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=120)
        self._client.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.reports.append(self._client.collect_garbage(apply=True))


@pytest.fixture
def pusher(database: str, storage_url: str) -> Iterator[Client]:
    with modelreg.connect(database, storage=storage_url, actor="pusher", settings=HARSH) as client:
        yield client


class Pushes:
    """Pushes one source each; counts the pushes the SDK gave up on (CHUNK_BEING_COLLECTED after its own
    bounded retries), which are pushed again: with a grace of 0 s nothing protects an upload until its
    commit, so a collector sweeping without pause can refuse the same push several times in a row."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.given_up = 0

    def __call__(self, index: int, root: Path) -> ModelVersion:
        name = f"m{index % MODELS}"
        if index % 10 == 3:  # upload everything, fail the commit: garbage that the next push re-uses
            with pytest.raises(errors.InvalidMetadata):
                self.client.push(name, root, metrics={"loss": float("nan")})
        for _ in range(GIVE_UPS):
            try:
                return self.client.push(name, root, tags={"push": str(index)})
            except errors.ChunkBeingCollected:
                self.given_up += 1
        return self.client.push(name, root, tags={"push": str(index)})


def test_gc_in_a_loop_during_200_concurrent_pushes(
    pusher: Client, database: str, storage_url: str, sources: list[Path], tmp_path: Path
) -> None:
    started = time.monotonic()
    push = Pushes(pusher)
    with Collector(database, storage_url) as collector, ThreadPoolExecutor(THREADS) as pool:
        versions = list(pool.map(lambda item: push(*item), enumerate(sources)))
        while len(collector.reports) < 3:  # at least a few collections overlapped the pushes
            time.sleep(0.01)
    pushed_in = time.monotonic() - started

    runs = collector.reports
    assert len(runs) >= 3 and sum(report.deleted_chunks for report in runs) > 0, "the collector never swept"
    assert all(report.missing_chunks == 0 for report in runs)
    numbers = Counter(version.name for version in versions)
    for name, count in numbers.items():  # every push registered once: numbers 1…n per model, no gap
        listed = sorted(v.version for v in pusher.list_versions(name, limit=1000).items)
        assert listed == list(range(1, count + 1))

    final = pusher.collect_garbage(apply=True)  # a last sweep, then everything must still be there
    assert (final.missing_chunks, pusher.collect_garbage().reclaimable_chunks) == (0, 0)
    for index, (version, root) in enumerate(zip(versions, sources, strict=True)):
        assert version.tags == {"push": str(index)}
        pulled = pusher.pull(version.ref, dest=tmp_path / "out" / f"p{index:03d}")
        assert tree_bytes(Path(pulled)) == tree_bytes(root)

    with pusher._backend.metadata.session() as session:  # type: ignore[attr-defined]
        assert verify_chain(session.audit_events(limit=100_000)) is None
    print(  # context for a slow run: -s shows it
        f"{PUSHES} pushes in {pushed_in:.1f} s alongside {len(runs)} collections that deleted "
        f"{sum(r.deleted_chunks for r in runs)} chunks; the SDK gave up on {push.given_up} push(es)"
    )
