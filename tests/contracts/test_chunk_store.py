"""The chunk store conformance suite: what every ``ChunkStore`` backend must do, run against each of them.

To add a backend, write a factory returning a ``Backend`` (the store, plus how to damage a stored chunk the
way a bad disk or a tampering operator would) and list it in ``BACKENDS``. A factory may ask
``request.getfixturevalue`` for a server fixture, as S3's does for the session's moto server.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from modelreg.blobs.file import FileChunkStore
from modelreg.blobs.memory import MemoryChunkStore
from modelreg.blobs.protocol import ChunkStore
from modelreg.blobs.s3 import S3ChunkStore
from modelreg.digest import Digest, sha256_bytes
from modelreg.errors import ChunkNotFound, DigestMismatch, InvalidDigest

MiB = 1024 * 1024


@dataclass(frozen=True)
class Backend:
    store: ChunkStore
    corrupt: Callable[[Digest], None]  # flip one stored byte of a chunk, behind the store's back


def _memory(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    store = MemoryChunkStore()
    return Backend(store, store.corrupt)


def _file(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    store = FileChunkStore(tmp_path / "chunks")

    def corrupt(digest: Digest) -> None:
        hex_ = digest.removeprefix("sha256:")
        path = tmp_path / "chunks" / "sha256" / hex_[:2] / hex_[2:4] / hex_
        damaged = bytearray(path.read_bytes())
        damaged[len(damaged) // 2] ^= 0x01
        path.write_bytes(damaged)

    return Backend(store, corrupt)


def _s3(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    client = request.getfixturevalue("s3_client")
    bucket: str = request.getfixturevalue("s3_bucket")
    store = S3ChunkStore(bucket, "registry/chunks", client=client)

    def corrupt(digest: Digest) -> None:
        hex_ = digest.removeprefix("sha256:")
        key = f"registry/chunks/sha256/{hex_[:2]}/{hex_}"
        damaged = bytearray(client.get_object(Bucket=bucket, Key=key)["Body"].read())
        damaged[len(damaged) // 2] ^= 0x01
        client.put_object(Bucket=bucket, Key=key, Body=bytes(damaged))  # no checksum: S3 takes it as is

    return Backend(store, corrupt)


BACKENDS: dict[str, Callable[[pytest.FixtureRequest, Path], Backend]] = {
    "memory": _memory,
    "file": _file,
    "s3": _s3,
}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return BACKENDS[request.param](request, tmp_path)


@pytest.fixture
def chunk_store(backend: Backend) -> ChunkStore:
    return backend.store


def chunk(data: bytes) -> tuple[Digest, bytes]:
    return sha256_bytes(data), data


def test_backend_implements_the_protocol(chunk_store: ChunkStore) -> None:
    assert isinstance(chunk_store, ChunkStore)
    assert chunk_store.url.split("://")[0] in {"memory", "file", "s3"}


def test_put_then_get_round_trips(chunk_store: ChunkStore) -> None:
    digest, data = chunk(b"hello chunk")
    assert chunk_store.put(digest, data) is True
    assert chunk_store.get(digest) == data
    assert chunk_store.exists(digest) is True
    assert chunk_store.size(digest) == len(data)


def test_put_accepts_a_memoryview_slice(chunk_store: ChunkStore) -> None:
    buffer = bytearray(os.urandom(3000))
    view = memoryview(buffer)[1000:2000]
    expected = bytes(view)
    digest = Digest("sha256:" + hashlib.sha256(expected).hexdigest())
    assert chunk_store.put(digest, view) is True
    buffer[1000:2000] = bytes(1000)  # the store must own its copy, not keep the caller's buffer
    assert chunk_store.get(digest) == expected


def test_put_is_idempotent(chunk_store: ChunkStore) -> None:
    digest, data = chunk(b"twice")
    assert chunk_store.put(digest, data) is True
    assert chunk_store.put(digest, data) is False
    assert list(chunk_store.iter()) == [digest]
    assert chunk_store.get(digest) == data


def test_put_with_the_wrong_digest_stores_nothing(chunk_store: ChunkStore) -> None:
    digest, _ = chunk(b"what the client claimed")
    with pytest.raises(DigestMismatch) as caught:
        chunk_store.put(digest, b"what arrived")
    assert digest in caught.value.message
    assert caught.value.details["actual"] == sha256_bytes(b"what arrived")
    assert chunk_store.exists(digest) is False
    assert chunk_store.exists(sha256_bytes(b"what arrived")) is False
    assert list(chunk_store.iter()) == []


def test_a_verified_put_stores_the_bytes_and_reads_stay_verified(backend: Backend) -> None:
    """``verified=True`` (bytes this process just hashed) skips the put's own check, never the read's."""
    store = backend.store
    digest, data = chunk(os.urandom(5000))
    assert store.put(digest, memoryview(data), verified=True) is True
    assert store.put(digest, data, verified=True) is False
    assert store.get(digest) == data
    assert list(store.iter()) == [digest]
    backend.corrupt(digest)
    with pytest.raises(DigestMismatch) as caught:
        store.get(digest)
    assert caught.value.message.startswith(f"stored chunk {digest} is corrupted")


def test_an_unverified_put_still_checks_when_verified_is_false(chunk_store: ChunkStore) -> None:
    digest, _ = chunk(b"claimed")
    with pytest.raises(DigestMismatch):
        chunk_store.put(digest, b"arrived", verified=False)
    assert list(chunk_store.iter()) == []


def test_get_of_a_missing_chunk_raises_chunk_not_found(chunk_store: ChunkStore) -> None:
    digest, _ = chunk(b"never stored")
    with pytest.raises(ChunkNotFound) as caught:
        chunk_store.get(digest)
    assert caught.value.message == f"chunk {digest} not found"
    with pytest.raises(ChunkNotFound):
        chunk_store.size(digest)
    assert chunk_store.exists(digest) is False


@pytest.mark.parametrize("bad", ["sha256:../../etc/passwd", "md5:abc", "sha256:" + "A" * 64, ""])
def test_malformed_digests_are_invalid_input_everywhere(chunk_store: ChunkStore, bad: str) -> None:
    for call in (chunk_store.get, chunk_store.exists, chunk_store.size, chunk_store.delete):
        with pytest.raises(InvalidDigest):
            call(Digest(bad))
    with pytest.raises(InvalidDigest):
        chunk_store.put(Digest(bad), b"x")
    with pytest.raises(InvalidDigest):
        chunk_store.missing([Digest(bad)])


def test_missing_is_the_subset_not_stored(chunk_store: ChunkStore) -> None:
    stored = [chunk(f"stored {i}".encode()) for i in range(5)]
    absent = [chunk(f"absent {i}".encode()) for i in range(3)]
    for digest, data in stored:
        chunk_store.put(digest, data)
    asked = [d for d, _ in stored] + [d for d, _ in absent] + [absent[0][0]]  # duplicates are fine
    assert chunk_store.missing(asked) == {d for d, _ in absent}
    assert chunk_store.missing([]) == set()
    assert chunk_store.missing(d for d, _ in stored) == set()  # any iterable, even a generator


def test_modified_is_when_the_chunk_was_first_written(chunk_store: ChunkStore) -> None:
    # Garbage collection's grace period reads it. Whole seconds: S3's Last-Modified has no finer grain.
    digest, data = chunk(b"dated")
    before = time.time()
    chunk_store.put(digest, data)
    written = chunk_store.modified(digest)
    assert int(before) - 1 <= written <= time.time() + 1
    assert chunk_store.put(digest, data) is False
    assert chunk_store.modified(digest) == written  # an idempotent put is not a write
    with pytest.raises(ChunkNotFound):
        chunk_store.modified(chunk(b"never stored")[0])


def test_delete_removes_and_reports_whether_it_existed(chunk_store: ChunkStore) -> None:
    kept, gone = chunk(b"kept"), chunk(b"gone")
    chunk_store.put(*kept)
    chunk_store.put(*gone)
    assert chunk_store.delete(gone[0]) is True
    assert chunk_store.delete(gone[0]) is False
    assert chunk_store.exists(gone[0]) is False
    assert list(chunk_store.iter()) == [kept[0]]
    assert chunk_store.put(*gone) is True  # a collected chunk can be stored again


def test_iter_lists_every_chunk_once(chunk_store: ChunkStore) -> None:
    chunks = [chunk(os.urandom(100)) for _ in range(50)]
    for digest, data in chunks:
        chunk_store.put(digest, data)
    listed = list(chunk_store.iter())
    assert sorted(listed) == sorted(d for d, _ in chunks)


def test_iter_tolerates_deletion_while_listing(chunk_store: ChunkStore) -> None:
    chunks = [chunk(bytes([i])) for i in range(20)]
    for digest, data in chunks:
        chunk_store.put(digest, data)
    seen = []
    for digest in chunk_store.iter():  # garbage collection deletes as it walks
        seen.append(digest)
        chunk_store.delete(digest)
    assert sorted(seen) == sorted(d for d, _ in chunks)
    assert list(chunk_store.iter()) == []


def test_an_empty_chunk_is_a_chunk(chunk_store: ChunkStore) -> None:
    digest, data = chunk(b"")
    assert digest == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert chunk_store.put(digest, data) is True
    assert chunk_store.get(digest) == b""
    assert chunk_store.size(digest) == 0
    assert chunk_store.missing([digest]) == set()


def test_a_4_mib_chunk_round_trips(chunk_store: ChunkStore) -> None:
    digest, data = chunk(os.urandom(4 * MiB))
    assert chunk_store.put(digest, data) is True
    assert chunk_store.size(digest) == 4 * MiB
    assert chunk_store.get(digest) == data


def test_concurrent_writers_of_one_chunk_all_succeed_and_one_writes(chunk_store: ChunkStore) -> None:
    digest, data = chunk(os.urandom(2 * MiB))
    barrier = threading.Barrier(8)

    def put() -> bool:
        barrier.wait()  # release all eight at once to maximise the overlap
        return chunk_store.put(digest, data)

    with ThreadPoolExecutor(8) as pool:
        results = [future.result() for future in [pool.submit(put) for _ in range(8)]]
    assert results.count(True) == 1
    assert results.count(False) == 7
    assert list(chunk_store.iter()) == [digest]
    assert chunk_store.get(digest) == data


def test_concurrent_writers_of_many_chunks(chunk_store: ChunkStore) -> None:
    chunks = [chunk(os.urandom(64 * 1024)) for _ in range(64)]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda c: chunk_store.put(*c), chunks + chunks))
    assert results.count(True) == 64
    assert chunk_store.missing(d for d, _ in chunks) == set()
    assert all(chunk_store.get(d) == data for d, data in chunks)


def test_corrupted_stored_bytes_are_detected_on_get(backend: Backend) -> None:
    digest, data = chunk(os.urandom(1000))
    backend.store.put(digest, data)
    backend.corrupt(digest)
    with pytest.raises(DigestMismatch) as caught:
        backend.store.get(digest)
    assert digest in caught.value.message
    assert caught.value.details["digest"] == digest
    assert caught.value.details["actual"] != digest
    assert backend.store.exists(digest) is True  # exists() does not read content; get() does by default
    raw = backend.store.get(digest, verify=False)  # the caller checks the bytes itself (a commit's file hash)
    assert len(raw) == len(data) and raw != data and sha256_bytes(raw) == caught.value.details["actual"]


def test_a_corrupted_chunk_is_not_repaired_by_an_idempotent_put(backend: Backend) -> None:
    # put() of an existing digest is a no-op: repair is an explicit delete then put, never silent.
    digest, data = chunk(os.urandom(1000))
    backend.store.put(digest, data)
    backend.corrupt(digest)
    assert backend.store.put(digest, data) is False
    with pytest.raises(DigestMismatch):
        backend.store.get(digest)
    assert backend.store.delete(digest) is True
    assert backend.store.put(digest, data) is True
    assert backend.store.get(digest) == data
