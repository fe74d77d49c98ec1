"""``registry.direct``: the use cases behind direct transfers, on a registry whose store cannot presign.

The presigning itself is S3's (``tests/blobs/test_s3.py``, ``tests/functional/test_direct.py``); what is
checked here is what holds whatever the store: permissions, which chunks a version lends its URLs to, bad
input, and that a registry without direct transfers hands out no URLs (the client then uses the API).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from modelreg.access import Actor
from modelreg.blobs.memory import MemoryChunkStore
from modelreg.connection import open_stores
from modelreg.digest import sha256_bytes
from modelreg.errors import (
    ChunkNotFound,
    InvalidDigest,
    InvalidInput,
    PermissionDenied,
    VersionDeleted,
    VersionNotFound,
)
from modelreg.registry.direct import DirectTransfers
from modelreg.registry.manifest import ChunkRef, FileRecord, Manifest
from modelreg.registry.service import Registry


@pytest.fixture
def registry(database: str, tmp_path: Path) -> Any:
    metadata, chunks = open_stores(database, storage=f"file://{tmp_path / 'chunks'}")
    yield Registry(metadata, chunks, actor=Actor("alice", role="admin"))
    metadata.close()


def push(registry: Registry, name: str, data: bytes) -> str:
    digest = sha256_bytes(data)
    registry.put_chunk(digest, data)
    record = FileRecord("w.bin", len(data), digest, (ChunkRef(digest, len(data)),))
    registry.commit_version(name, Manifest.build([record]))
    return digest


def test_without_direct_transfers_no_urls_are_handed_out(registry: Registry) -> None:
    chunk = push(registry, "churn", b"weights")
    new = sha256_bytes(b"new")
    assert registry.plan_upload([chunk, new, new]) == ([new], {})
    assert registry.chunk_downloads("churn/1", [chunk]) == {}


def test_download_urls_only_for_chunks_of_a_live_version_the_caller_may_pull(registry: Registry) -> None:
    chunk = push(registry, "churn", b"weights")
    other = push(registry, "other", b"other weights")
    with pytest.raises(ChunkNotFound, match="is not part of churn/1"):
        registry.chunk_downloads("churn/1", [chunk, other])
    with pytest.raises(VersionNotFound):
        registry.chunk_downloads("churn/2", [chunk])
    with pytest.raises(InvalidDigest):
        registry.chunk_downloads("churn/1", ["sha256:xyz"])
    with pytest.raises(PermissionDenied):
        registry.as_actor(Actor("nobody", role="none")).chunk_downloads("churn/1", [chunk])
    with pytest.raises(PermissionDenied):
        registry.as_actor(Actor("reader", role="viewer")).plan_upload([chunk])
    registry.delete_version("churn/1")
    with pytest.raises(VersionDeleted):
        registry.chunk_downloads("churn/1", [chunk])


@pytest.mark.parametrize("seconds", [0, 59, 7 * 24 * 3600 + 1])
def test_a_url_lifetime_outside_what_sigv4_allows_is_refused(seconds: int) -> None:
    with pytest.raises(InvalidInput, match="presigned URL lifetime"):
        DirectTransfers(MemoryChunkStore(), expires_in=seconds)  # type: ignore[arg-type]
