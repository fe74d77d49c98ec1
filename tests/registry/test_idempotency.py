"""Idempotency keys at the registry, on SQLite and PostgreSQL: a retry within a day returns the first
result; an older key is forgotten (its row deleted by the next commit with that key, or by a later batch)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy

from modelreg import errors
from modelreg.access import Actor
from modelreg.connection import open_stores
from modelreg.digest import sha256_bytes
from modelreg.metadata.engine import make_engine
from modelreg.metadata.tables import idempotency_keys
from modelreg.registry.manifest import ChunkRef, FileRecord, Manifest
from modelreg.registry.publish import IDEMPOTENCY_KEY_SECONDS
from modelreg.registry.service import Registry
from tests.clock import Clock


@pytest.fixture
def registry(database: str, storage_url: str, clock: Clock) -> Iterator[Registry]:
    metadata, chunks = open_stores(database, storage=storage_url)
    yield Registry(metadata, chunks, actor=Actor("root", role="admin"), clock=clock)
    metadata.close()


def manifest_of(registry: Registry, data: bytes) -> Manifest:
    digest = sha256_bytes(data)
    registry.put_chunk(digest, data)
    return Manifest.build([FileRecord("w.bin", len(data), digest, (ChunkRef(digest, len(data)),))])


def remembered(database: str) -> list[str]:
    engine = make_engine(database)
    try:
        with engine.connect() as connection:
            query = sqlalchemy.select(idempotency_keys.c.key).order_by(idempotency_keys.c.key)
            return list(connection.execute(query).scalars())
    finally:
        engine.dispose()


def test_a_retry_within_the_window_returns_the_first_version(registry: Registry, clock: Clock) -> None:
    manifest = manifest_of(registry, os.urandom(1000))
    first = registry.commit("m", manifest, idempotency_key="job-1")
    clock.now += timedelta(seconds=IDEMPOTENCY_KEY_SECONDS - 60)
    assert registry.commit("m", manifest, idempotency_key="job-1").version == first.version
    with pytest.raises(errors.IdempotencyKeyReused):
        registry.commit("m", manifest, idempotency_key="job-1", metrics={"auc": 0.5})
    assert [v.version for v in registry.list_versions("m").items] == [1]


def test_an_expired_key_is_a_new_request_and_expired_keys_are_deleted(
    registry: Registry, clock: Clock, database: str
) -> None:
    manifest = manifest_of(registry, os.urandom(1000))
    registry.commit("m", manifest, idempotency_key="job-1")
    registry.commit("m", manifest, idempotency_key="job-2", metrics={"auc": 0.5})
    assert remembered(database) == ["job-1", "job-2"]

    clock.now += timedelta(seconds=IDEMPOTENCY_KEY_SECONDS + 1)
    again = registry.commit("m", manifest, idempotency_key="job-1", metrics={"auc": 0.7})
    assert again.version.version == 3  # another request now, not IDEMPOTENCY_KEY_REUSED
    assert remembered(database) == ["job-1", "job-2"]  # job-2 waits for a batch (expired under an hour ago)
    assert registry.commit("m", manifest, idempotency_key="job-1", metrics={"auc": 0.7}) == again
    assert [v.version for v in registry.list_versions("m").items] == [3, 2, 1]


def test_expired_keys_go_in_bounded_batches_once_an_hour_past_their_expiry(
    registry: Registry, clock: Clock, database: str
) -> None:
    manifest = manifest_of(registry, os.urandom(1000))
    start = registry.commit("m", manifest, idempotency_key="job-1").version.created_at
    engine = make_engine(database)
    with engine.begin() as connection:  # a backlog of 1,100 keys, old-1099 the oldest
        (version_id,) = connection.execute(sqlalchemy.select(idempotency_keys.c.version_id)).one()
        connection.execute(
            sqlalchemy.insert(idempotency_keys),
            [
                {
                    "key": f"old-{n:04}",
                    "request_digest": "sha256:" + "0" * 64,
                    "version_id": version_id,
                    "created_at": start - timedelta(days=2, seconds=n),
                }
                for n in range(1100)
            ],
        )
    engine.dispose()
    clock.now = start + timedelta(seconds=IDEMPOTENCY_KEY_SECONDS, minutes=30)  # job-1 expired 30 min ago

    registry.commit("m", manifest, idempotency_key="job-2")  # the 1,000 oldest go: old-1099 … old-0100
    assert remembered(database) == ["job-1", "job-2", *(f"old-{n:04}" for n in range(100))]
    registry.commit("m", manifest, idempotency_key="job-3", tags={"n": "3"})  # the rest, and job-1 with them
    assert remembered(database) == ["job-2", "job-3"]

    clock.now += timedelta(seconds=IDEMPOTENCY_KEY_SECONDS + 1800)  # job-2 and job-3 expired 30 min ago
    registry.commit("m", manifest, idempotency_key="job-4", tags={"n": "4"})
    assert remembered(database) == ["job-2", "job-3", "job-4"]  # not yet an hour past: no batch
    clock.now += timedelta(minutes=31)
    registry.commit("m", manifest, idempotency_key="job-5", tags={"n": "5"})
    assert remembered(database) == ["job-4", "job-5"]
