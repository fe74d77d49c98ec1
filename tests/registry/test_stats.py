"""Storage statistics and the per-commit storage figures, at the registry: audit, replays, permissions."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest

from modelreg import errors
from modelreg.access import Actor
from modelreg.connection import open_stores
from modelreg.digest import sha256_bytes
from modelreg.registry.manifest import ChunkRef, FileRecord, Manifest
from modelreg.registry.service import Registry
from modelreg.registry.stats import dedup_ratio


@pytest.fixture
def registry(database: str, storage_url: str) -> Iterator[Registry]:
    metadata, chunks = open_stores(database, storage=storage_url)
    yield Registry(metadata, chunks, actor=Actor("root", role="admin"))
    metadata.close()


def manifest_of(registry: Registry, *contents: bytes) -> Manifest:
    """One file per content, one chunk per file, each chunk stored."""
    records = []
    for index, data in enumerate(contents):
        digest = sha256_bytes(data)
        registry.put_chunk(digest, data)
        records.append(FileRecord(f"f{index}.bin", len(data), digest, (ChunkRef(digest, len(data)),)))
    return Manifest.build(records)


def creation_data(registry: Registry, target: str) -> dict[str, object]:
    with registry.metadata.session() as session:
        event = session.creation_event(target.split("/", maxsplit=1)[0], target)
    assert event is not None
    data: dict[str, object] = json.loads(event.data_json)
    return data


def test_the_figures_are_recorded_in_the_creation_event(registry: Registry) -> None:
    a, b = os.urandom(1000), os.urandom(300)
    first = registry.commit("m", manifest_of(registry, a))
    second = registry.commit("m", manifest_of(registry, a, b))
    assert (first.bytes_new, first.chunks_new, first.bytes_deduplicated) == (1000, 1, 0)
    assert (second.bytes_new, second.chunks_new, second.bytes_deduplicated, second.chunks_deduplicated) == (
        300,
        1,
        1000,
        1,
    )
    assert creation_data(registry, "m/2") | {"digest": None} == {
        "digest": None,
        "aliases": [],
        "chunks_new": 1,
        "bytes_new": 300,
        "chunks_deduplicated": 1,
        "bytes_deduplicated": 1000,
    }


def test_a_replayed_commit_reports_the_first_commits_figures(registry: Registry) -> None:
    manifest = manifest_of(registry, os.urandom(700))
    first = registry.commit("m", manifest, idempotency_key="job-1")
    again = registry.commit("m", manifest, idempotency_key="job-1")
    assert again == first and (again.version.version, again.bytes_new) == (1, 700)


def test_chunks_of_deleted_versions_still_count_as_held(registry: Registry) -> None:
    data = os.urandom(500)
    registry.commit("m", manifest_of(registry, data))
    registry.delete_version("m/1")
    assert registry.commit("m", manifest_of(registry, data)).bytes_new == 0


def test_readers_may_see_the_statistics_and_others_may_not(registry: Registry) -> None:
    registry.commit("m", manifest_of(registry, os.urandom(10)))
    viewer = registry.as_actor(Actor("v", role="viewer"))
    assert viewer.storage_stats().logical_bytes == 10
    with pytest.raises(errors.PermissionDenied):
        registry.as_actor(Actor("x", role="none")).storage_stats()


def test_reading_statistics_writes_nothing(registry: Registry) -> None:
    registry.commit("m", manifest_of(registry, os.urandom(10)))
    with registry.metadata.session() as session:
        before = session.audit_seq()
    registry.storage_stats()
    registry.storage_stats("m")
    with registry.metadata.session() as session:
        assert session.audit_seq() == before


@pytest.mark.parametrize(("logical", "physical", "ratio"), [(0, 0, 1.0), (10, 10, 1.0), (30, 9, 3.333)])
def test_the_ratio_is_logical_over_physical(logical: int, physical: int, ratio: float) -> None:
    assert dedup_ratio(logical, physical) == ratio
