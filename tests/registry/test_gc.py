"""Garbage collection: what a dry run reports, what ``apply`` deletes, and what it must never delete.

Real stores throughout (SQLite and PostgreSQL, a file chunk store). Most tests use a grace period of 0 s, the
harshest setting: only references, leases and sweep rows protect a chunk. The interleavings that matter (a
collection running between a commit's store check and its transaction, a deletion failing) are staged with
``HookedStore``, a real chunk store that runs a step of the scenario right after one of its calls.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy

from modelreg import errors
from modelreg.access import Actor
from modelreg.blobs.memory import MemoryChunkStore
from modelreg.blobs.protocol import ChunkStore
from modelreg.client.client import Client
from modelreg.connection import open_stores
from modelreg.digest import Digest, sha256_bytes
from modelreg.metadata.engine import make_engine
from modelreg.metadata.store import SqlMetadataStore
from modelreg.metadata.tables import metadata as schema
from modelreg.registry.audit import verify_chain
from modelreg.registry.collection import GC_ACTIONS
from modelreg.registry.manifest import ChunkRef, FileRecord, Manifest
from modelreg.registry.service import Registry
from modelreg.types import GcReport
from tests.clock import Clock
from tests.conftest import tree_bytes

ROOT = Actor("root", role="admin")


class HookedStore:
    """A real chunk store that runs ``hook`` once, right after the first call of ``method`` returns
    (or instead of it, when ``replace`` is set)."""

    def __init__(self, inner: ChunkStore, method: str, hook: Callable[..., Any], *, replace: bool = False):
        self._inner, self._method, self._hook, self._replace = inner, method, hook, replace
        self._lock = threading.Lock()  # the collector calls the store from several threads
        self.url = inner.url
        self.fired = False

    def __getattr__(self, name: str) -> Any:
        function = getattr(self._inner, name)
        if name != self._method:
            return function

        def hooked(*args: Any) -> Any:
            with self._lock:
                first, self.fired = not self.fired, True
            if not first:
                return function(*args)
            if self._replace:
                return self._hook(*args)
            result = function(*args)
            self._hook()
            return result

        return hooked


@pytest.fixture
def stores(database: str, storage_url: str) -> Iterator[tuple[SqlMetadataStore, ChunkStore]]:
    metadata, chunks = open_stores(database, storage=storage_url)
    yield metadata, chunks
    metadata.close()


@pytest.fixture
def registry(stores: tuple[SqlMetadataStore, ChunkStore]) -> Registry:
    return Registry(*stores, actor=ROOT, gc_grace_seconds=0)


def listing(store: ChunkStore) -> set[str]:
    return set(store.iter())


def database_rows(database: str) -> dict[str, list[str]]:
    engine = make_engine(database)
    with engine.connect() as connection:
        rows = {
            table.name: sorted(repr(tuple(row)) for row in connection.execute(sqlalchemy.select(table)))
            for table in schema.sorted_tables
        }
    engine.dispose()
    return rows


def write_model(root: Path, **files: bytes) -> Path:
    root.mkdir(parents=True)
    for name, data in files.items():
        (root / name).write_bytes(data)
    return root


def failed_push(client: Client, root: Path) -> None:
    """Upload ``root``'s chunks, then fail at the commit (a NaN metric): they stay, referenced by nothing."""
    with pytest.raises(errors.InvalidMetadata):
        client.push("m", root, metrics={"auc": float("nan")})


def put_orphan(registry: Registry, data: bytes) -> Digest:
    digest = sha256_bytes(data)
    registry.put_chunk(digest, data)
    return digest


def one_chunk_manifest(data: bytes) -> Manifest:
    digest = sha256_bytes(data)
    return Manifest.build([FileRecord("w.bin", len(data), digest, (ChunkRef(digest, len(data)),))])


def audit_actions(registry: Registry) -> list[tuple[str, str]]:
    with registry.metadata.session() as session:
        chain = session.audit_events(limit=10_000)
    assert verify_chain(chain) is None
    return [(event.action, event.data_json) for event in chain]


def test_a_dry_run_reports_the_orphans_and_changes_nothing(
    registry: Registry, database: str, tmp_path: Path
) -> None:
    client = Client(registry)
    client.push("m", write_model(tmp_path / "kept", **{"w.bin": os.urandom(1_500_000)}))
    referenced = listing(registry.chunks)
    failed_push(client, write_model(tmp_path / "failed", **{"f.bin": os.urandom(700_000)}))
    loose = put_orphan(registry, b"put directly, never committed")
    orphans = listing(registry.chunks) - referenced
    assert loose in orphans and len(orphans) >= 2
    stored_before, rows_before = listing(registry.chunks), database_rows(database)

    report = registry.collect_garbage()

    assert report == GcReport(
        applied=False,
        grace_seconds=0.0,
        scanned_chunks=len(referenced) + len(orphans),
        referenced_chunks=len(referenced),
        protected_chunks=0,
        reclaimable_chunks=len(orphans),
        reclaimable_bytes=sum(registry.chunks.size(Digest(d)) for d in orphans),
        deleted_chunks=0,
        deleted_bytes=0,
        missing_chunks=0,
        mark_seconds=report.mark_seconds,
        sweep_seconds=0.0,
    )
    assert report.reclaimable_bytes == 700_000 + len(b"put directly, never committed")
    assert report.mark_seconds > 0
    assert listing(registry.chunks) == stored_before
    assert database_rows(database) == rows_before  # no lease, no sweep row, no audit event


def test_apply_deletes_exactly_the_orphans_and_every_version_still_pulls(
    registry: Registry, tmp_path: Path
) -> None:
    client = Client(registry)
    shared = os.urandom(600_000)
    first = write_model(tmp_path / "v1", **{"a.bin": os.urandom(900_000), "s.bin": shared})
    second = write_model(tmp_path / "v2", **{"b.bin": os.urandom(400_000), "s.bin": shared})
    client.push("m", first)
    client.push("m", second)
    referenced = listing(registry.chunks)
    failed_push(client, write_model(tmp_path / "failed", **{"f.bin": os.urandom(500_000)}))
    orphans = listing(registry.chunks) - referenced
    orphan_bytes = sum(registry.chunks.size(Digest(d)) for d in orphans)

    report = registry.collect_garbage(apply=True)

    assert (report.applied, report.deleted_chunks, report.deleted_bytes) == (True, len(orphans), orphan_bytes)
    assert (report.reclaimable_chunks, report.referenced_chunks) == (len(orphans), len(referenced))
    assert listing(registry.chunks) == referenced
    again = registry.collect_garbage()
    assert (again.reclaimable_chunks, again.scanned_chunks, again.missing_chunks) == (0, len(referenced), 0)
    for ref, source in (("m/1", first), ("m/2", second)):
        assert tree_bytes(Path(client.pull(ref, dest=tmp_path / ref.replace("/", "-")))) == tree_bytes(source)
    gc_events = [
        (action, data) for action, data in audit_actions(registry) if action.startswith("registry:gc")
    ]
    counts = f'{{"bytes":{orphan_bytes},"chunks":{len(orphans)}'
    assert gc_events == [
        ("registry:gc:start", counts + ',"cleared":0}'),
        ("registry:gc:finish", counts + "}"),
    ]


def test_young_orphans_are_kept_with_the_default_grace(
    stores: tuple[SqlMetadataStore, ChunkStore], database: str, tmp_path: Path
) -> None:
    registry = Registry(*stores, actor=ROOT)  # the default grace period: 24 h
    client = Client(registry)
    # Files under FastCDC's 256 KiB minimum: one chunk each.
    client.push("m", write_model(tmp_path / "kept", **{"w.bin": os.urandom(200_000)}))
    failed_push(client, write_model(tmp_path / "failed", **{"f.bin": os.urandom(200_000)}))
    stored, rows = listing(registry.chunks), database_rows(database)

    report = registry.collect_garbage(apply=True)

    assert (report.grace_seconds, report.scanned_chunks, report.referenced_chunks) == (86_400.0, 2, 1)
    assert (report.protected_chunks, report.reclaimable_chunks, report.deleted_chunks) == (1, 0, 0)
    assert listing(registry.chunks) == stored
    assert database_rows(database) == rows  # nothing to delete: nothing recorded either


def test_chunks_of_deleted_versions_are_kept(registry: Registry, tmp_path: Path) -> None:
    client = Client(registry)
    client.push("m", write_model(tmp_path / "v1", **{"w.bin": os.urandom(800_000)}))
    stored = listing(registry.chunks)
    client.delete_version("m/1")  # soft: the version, and so its files, stay (a future purge will not)

    report = registry.collect_garbage(apply=True)

    assert (report.referenced_chunks, report.deleted_chunks) == (len(stored), 0)
    assert listing(registry.chunks) == stored


def test_a_chunk_a_client_was_told_is_present_is_kept_until_its_lease_expires(
    stores: tuple[SqlMetadataStore, ChunkStore],
) -> None:
    clock = Clock()
    registry = Registry(*stores, actor=ROOT, clock=clock, gc_grace_seconds=3600)
    data = b"uploaded by a push that has not committed yet"
    digest = put_orphan(registry, data)
    clock.now += timedelta(hours=2)  # the chunk is now older than the grace period

    assert registry.missing_chunks([digest]) == []  # "present": a promise for the next hour
    with registry.metadata.session() as session:
        assert session.leased_chunks(clock.now) == {digest}

    kept = registry.collect_garbage(apply=True)
    assert (kept.protected_chunks, kept.reclaimable_chunks, kept.deleted_chunks) == (1, 0, 0)
    assert registry.chunks.exists(digest)

    clock.now += timedelta(hours=1, seconds=1)  # the lease has expired
    swept = registry.collect_garbage(apply=True)
    assert (swept.deleted_chunks, swept.deleted_bytes) == (1, len(data))
    assert not registry.chunks.exists(digest)
    with registry.metadata.session() as session:
        assert session.leased_chunks(clock.now - timedelta(days=1)) == set()  # expired leases are dropped


def test_pushes_of_new_or_committed_content_write_no_lease(registry: Registry, tmp_path: Path) -> None:
    client = Client(registry)
    model = write_model(tmp_path / "m", **{"w.bin": os.urandom(1_200_000), "c.json": b"{}"})
    client.push("m", model)
    client.push("m", model)  # known files: their chunks are referenced
    client.push("other", model)
    with registry.metadata.session() as session:
        assert session.leased_chunks(datetime.now(UTC) - timedelta(days=1)) == set()
    assert registry.missing_chunks(sorted(listing(registry.chunks))) == []


def test_a_commit_against_a_chunk_under_sweep_fails_and_creates_nothing(registry: Registry) -> None:
    data = b"a chunk the collector has chosen"
    digest = put_orphan(registry, data)
    with registry.metadata.session(write=True) as session:  # a collection between its two transactions
        session.lock_collection()
        session.start_sweep([digest], at=datetime.now(UTC))
    events = audit_actions(registry)

    assert registry.missing_chunks([digest]) == [digest]  # under sweep: upload it again
    with pytest.raises(errors.ChunkBeingCollected) as caught:
        registry.commit_version("m", one_chunk_manifest(data))
    assert caught.value.code == "CHUNK_BEING_COLLECTED"
    assert (caught.value.http_status, caught.value.retryable) == (503, True)
    assert caught.value.details == {"digests": [digest]}
    with pytest.raises(errors.ModelNotFound):
        registry.get_model("m")
    assert audit_actions(registry) == events

    with registry.metadata.session(write=True) as session:  # the sweep ends (this chunk survived it)
        session.lock_collection()
        session.end_sweep()
    assert registry.commit_version("m", one_chunk_manifest(data)).version == 1


def test_a_commit_fails_when_a_whole_collection_ran_after_its_store_check(
    stores: tuple[SqlMetadataStore, ChunkStore],
) -> None:
    """The race a sweep-row check alone misses: the commit saw the chunk stored, then a collection started,
    deleted it and ended, all before the commit's transaction began."""
    metadata, chunks = stores
    collector = Registry(metadata, chunks, actor=ROOT, gc_grace_seconds=0)
    data = b"an old orphan, about to be re-used by a commit"
    digest = put_orphan(collector, data)
    reports: list[GcReport] = []
    hooked = HookedStore(chunks, "size", lambda: reports.append(collector.collect_garbage(apply=True)))
    committer = Registry(metadata, hooked, actor=ROOT, gc_grace_seconds=0, verify_file_digests=False)

    with pytest.raises(errors.ChunkBeingCollected):
        committer.commit_version("m", one_chunk_manifest(data))

    assert hooked.fired and reports[0].deleted_chunks == 1 and not chunks.exists(digest)
    with pytest.raises(errors.ModelNotFound):
        collector.get_model("m")


def test_a_crashed_sweep_is_cleared_and_decided_afresh(registry: Registry, tmp_path: Path) -> None:
    client = Client(registry)
    client.push("m", write_model(tmp_path / "m", **{"w.bin": os.urandom(200_000)}))  # one chunk
    garbage = put_orphan(registry, b"chosen by the crashed collection, still stored")
    gone = sha256_bytes(b"chosen and deleted before the crash")
    with registry.metadata.session(write=True) as session:  # a collection that died while deleting
        session.lock_collection()
        session.start_sweep([garbage, gone], at=datetime.now(UTC))

    report = registry.collect_garbage(apply=True)

    assert (report.deleted_chunks, report.referenced_chunks) == (1, 1)
    assert not registry.chunks.exists(garbage)
    with registry.metadata.session() as session:
        assert session.chunks_under_sweep() == set()
    start = next(data for action, data in audit_actions(registry) if action == "registry:gc:start")
    assert '"cleared":2' in start


def test_a_failed_deletion_ends_the_sweep_and_is_raised(stores: tuple[SqlMetadataStore, ChunkStore]) -> None:
    metadata, chunks = stores

    def refuse(digest: Digest) -> bool:
        raise errors.StorageUnavailable(f"chunk store unavailable: cannot delete chunk {digest}")

    hooked = HookedStore(chunks, "delete", refuse, replace=True)
    registry = Registry(metadata, hooked, actor=ROOT, gc_grace_seconds=0)
    orphans = {put_orphan(registry, b"one"), put_orphan(registry, b"two")}

    with pytest.raises(errors.StorageUnavailable, match="cannot delete"):
        registry.collect_garbage(apply=True)

    survivors = listing(chunks)
    assert len(survivors) == 1 and survivors < orphans  # one deletion failed, the other went through
    with metadata.session() as session:
        assert session.chunks_under_sweep() == set()  # commits against the survivor work again
    finish = [data for action, data in audit_actions(registry) if action == "registry:gc:finish"]
    assert len(finish) == 1 and '"chunks":1' in finish[0] and "cannot delete" in finish[0]


def test_a_push_whose_commit_meets_a_sweep_uploads_again_and_succeeds(
    stores: tuple[SqlMetadataStore, ChunkStore], tmp_path: Path
) -> None:
    metadata, chunks = stores
    registry = Registry(metadata, chunks, actor=ROOT, gc_grace_seconds=0)
    data = os.urandom(200_000)  # one chunk (under FastCDC's minimum), stored by an earlier failed push
    digest = put_orphan(registry, data)
    sweeping = threading.Event()

    def slow_delete(target: Digest) -> bool:  # the sweep has started: let the push run into it
        sweeping.set()
        time.sleep(0.3)
        return chunks.delete(target)

    hooked = HookedStore(chunks, "delete", slow_delete, replace=True)
    collector = Registry(metadata, hooked, actor=ROOT, gc_grace_seconds=0)
    reports: list[GcReport] = []
    sweeper = threading.Thread(target=lambda: reports.append(collector.collect_garbage(apply=True)))
    sweeper.start()
    assert sweeping.wait(timeout=30)
    client = Client(registry)
    model = write_model(tmp_path / "m", **{"w.bin": data})
    version = client.push("m", model)  # told "missing", uploads (a no-op), commit refused… then again
    sweeper.join()

    assert reports[0].deleted_chunks == 1  # the sweep did delete the chunk the push first found
    assert version.version == 1 and chunks.exists(digest)
    assert client.last_push is not None and client.last_push.bytes_stored == len(data)  # the re-upload
    assert tree_bytes(Path(client.pull("m/1", dest=tmp_path / "out"))) == tree_bytes(model)


def test_only_admins_collect_garbage(registry: Registry) -> None:
    for role in ("viewer", "contributor"):
        with pytest.raises(errors.PermissionDenied, match="storage:admin"):
            registry.as_actor(Actor("someone", role=role)).collect_garbage()
    with pytest.raises(errors.InvalidInput, match="apply"):
        registry.collect_garbage(apply="yes")  # type: ignore[arg-type]


def test_an_invalid_grace_period_is_refused(stores: tuple[SqlMetadataStore, ChunkStore]) -> None:
    for grace in (-1.0, float("nan"), float("inf")):
        with pytest.raises(errors.InvalidInput, match="grace period"):
            Registry(*stores, actor=ROOT, gc_grace_seconds=grace)


def test_the_sdk_collects_embedded_and_over_http(reg: Client, model_dir: Path, tmp_path: Path) -> None:
    reg.push("m", model_dir)
    failed_push(reg, write_model(tmp_path / "failed", **{"f.bin": os.urandom(200_000)}))  # one chunk

    dry = reg.collect_garbage()
    applied = reg.collect_garbage(apply=True)

    for report, was_applied in ((dry, False), (applied, True)):
        assert isinstance(report, GcReport) and report.applied is was_applied
        assert (report.grace_seconds, report.protected_chunks, report.reclaimable_chunks) == (86_400.0, 1, 0)
        assert report.referenced_chunks == report.scanned_chunks - 1 >= 3
    assert applied.deleted_chunks == 0


def test_many_orphans_are_swept_in_batches(database: str) -> None:
    # Commits wait while a batch is decided: 10,001 orphans make three short waits, not one long one.
    metadata = SqlMetadataStore(database)
    registry = Registry(metadata, MemoryChunkStore(), actor=ROOT, gc_grace_seconds=0)
    for index in range(10_001):
        put_orphan(registry, index.to_bytes(4, "big"))

    report = registry.collect_garbage(apply=True)
    sweeps = [(action, json.loads(data)["chunks"]) for action, data in audit_actions(registry)]
    metadata.close()

    assert (report.reclaimable_chunks, report.deleted_chunks) == (10_001, 10_001)
    assert report.deleted_bytes == 4 * 10_001
    assert list(registry.chunks.iter()) == []
    assert sweeps == [(action, count) for count in (5000, 5000, 1) for action in GC_ACTIONS]
