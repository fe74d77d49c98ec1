"""Artifacts (``registry.artifacts``, ``registry.artifact_stream``): streamed into content-defined chunks,
read back verified, listed, deleted, kept by garbage collection, registered as versions; on SQLite and
PostgreSQL with a real file chunk store."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelreg import errors
from modelreg.access import Actor
from modelreg.blobs.protocol import ChunkStore
from modelreg.chunking import MAX_CHUNK, split_fastcdc
from modelreg.client.client import Client
from modelreg.connection import open_stores
from modelreg.digest import Digest, digest_hex, sha256_bytes
from modelreg.registry.artifact_stream import StreamCutter
from modelreg.registry.audit import verify_chain
from modelreg.registry.service import Registry
from modelreg.types import ArtifactEntry

ALICE = Actor("alice", role="contributor")
RUN = "0123456789abcdef0123456789abcdef"
BASE = f"0/{RUN}/artifacts"


@pytest.fixture
def registry(database: str, storage_url: str) -> Iterator[Registry]:
    metadata, chunks = open_stores(database, storage=storage_url)
    yield Registry(metadata, chunks, actor=ALICE, gc_grace_seconds=0)
    metadata.close()


def pieces(data: bytes, seed: int = 7) -> Iterator[bytes]:
    """``data`` in odd-sized pieces, from 1 byte to 3 MiB."""
    rng, start = random.Random(seed), 0
    while start < len(data):
        size = rng.choice([1, 7, 4093, 65537, 1_000_003, 3 * 1024 * 1024 + 1])
        yield data[start : start + size]
        start += size


def whole_cut(data: bytes) -> list[bytes]:
    return [data[s.offset : s.offset + s.size] for s in split_fastcdc(data)]


def stored_chunks(registry: Registry, path: str) -> list[tuple[str, int]]:
    with registry.metadata.session() as session:
        stored = session.artifact(path)
    assert stored is not None
    return [(digest, size) for digest, size in json.loads(stored.chunks_json)]


def actions(registry: Registry) -> list[str]:
    with registry.metadata.session() as session:
        chain = session.audit_events(limit=10_000)
    assert verify_chain(chain) is None
    return [event.action for event in chain]


def read(registry: Registry, path: str) -> bytes:
    entry, stream = registry.open_artifact(path)
    data = b"".join(stream)
    assert entry.size == len(data) and entry.digest == sha256_bytes(data)
    return data


# Streaming -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "data",
    [b"", b"tiny", os.urandom(3 * MAX_CHUNK + 5), bytes(9 * MAX_CHUNK + 3), os.urandom(MAX_CHUNK) * 5],
    ids=["empty", "tiny", "random", "zeros", "repeated"],
)
def test_the_stream_cutter_cuts_as_the_whole_file_is_cut(data: bytes) -> None:
    cutter = StreamCutter()
    chunks = [bytes(c) for piece in pieces(data, seed=len(data)) for c in cutter.feed(piece)]
    chunks += [bytes(c) for c in cutter.finish()]
    assert chunks == whole_cut(data)
    assert all(len(chunk) <= MAX_CHUNK for chunk in chunks)


def test_a_20_mib_artifact_streamed_in_odd_pieces_is_chunked_as_a_whole(registry: Registry) -> None:
    data = os.urandom(20 * 1024 * 1024 + 12345)
    entry = registry.put_artifact(f"{BASE}/model.bin", pieces(data))
    assert entry == ArtifactEntry(f"{BASE}/model.bin", False, len(data), sha256_bytes(data))
    expected = [(sha256_bytes(chunk), len(chunk)) for chunk in whole_cut(data)]
    assert stored_chunks(registry, entry.path) == expected
    assert len(expected) > 10 and all(registry.chunks.exists(Digest(d)) for d, _ in expected)
    assert read(registry, entry.path) == data
    again = registry.put_artifact(f"{BASE}/copy.bin", [data])  # the same content: no new chunk
    assert stored_chunks(registry, again.path) == expected
    assert len(set(registry.chunks.iter())) == len({d for d, _ in expected})
    assert actions(registry) == ["tracking:artifact:put", "tracking:artifact:put"]


def test_empty_files_and_replacements(registry: Registry) -> None:
    empty = registry.put_artifact(f"{BASE}/empty.txt", [])
    assert (empty.size, empty.digest) == (0, sha256_bytes(b""))
    assert read(registry, empty.path) == b""
    registry.put_artifact(f"{BASE}/notes.txt", [b"first"])
    replaced = registry.put_artifact(f"{BASE}/notes.txt", [b"sec", b"ond"])
    assert replaced.digest == sha256_bytes(b"second") and read(registry, replaced.path) == b"second"
    with registry.metadata.session() as session:
        events = session.audit_events(limit=100)
    assert json.loads(events[-1].data_json)["before"] == sha256_bytes(b"first")


# Listing, deleting, manifests -----------------------------------------------------------------------------
def test_listing_is_one_level_of_files_and_directories(registry: Registry) -> None:
    registry.create_experiment("exp")
    for path in (
        f"{BASE}/MLmodel",
        f"{BASE}/data/a.bin",
        f"{BASE}/data/b/c.bin",
        "1/other.txt",
        f"{BASE}/a.b",
    ):
        registry.put_artifact(path, [path.encode()])
    assert registry.list_artifacts() == [
        ArtifactEntry("0", True, None, None),
        ArtifactEntry("1", True, None, None),
    ]
    listed = registry.list_artifacts(BASE)
    assert listed == [
        ArtifactEntry(
            f"{BASE}/MLmodel", False, len(f"{BASE}/MLmodel"), sha256_bytes(f"{BASE}/MLmodel".encode())
        ),
        ArtifactEntry(f"{BASE}/a.b", False, len(f"{BASE}/a.b"), sha256_bytes(f"{BASE}/a.b".encode())),
        ArtifactEntry(f"{BASE}/data", True, None, None),
    ]
    assert [e.path for e in registry.list_artifacts(f"{BASE}/data")] == [
        f"{BASE}/data/a.bin",
        f"{BASE}/data/b",
    ]
    assert registry.list_artifacts(f"{BASE}/MLmodel") == []  # a file has nothing under it
    assert registry.list_artifacts("0/nothing") == [] and registry.list_artifacts("7") == []


def test_deleting_a_file_or_a_directory(registry: Registry) -> None:
    for path in (f"{BASE}/keep.txt", f"{BASE}/dir/a", f"{BASE}/dir/b/c", f"{BASE}/dirt"):
        registry.put_artifact(path, [b"x"])
    assert registry.delete_artifact(f"{BASE}/dir") == 2
    assert registry.delete_artifact(f"{BASE}/keep.txt") == 1
    assert registry.delete_artifact(f"{BASE}/keep.txt") == 0  # nothing there: nothing recorded
    assert [e.path for e in registry.list_artifacts(BASE)] == [f"{BASE}/dirt"]
    with pytest.raises(errors.ArtifactNotFound):
        registry.open_artifact(f"{BASE}/dir/a")
    assert actions(registry)[-2:] == ["tracking:artifact:delete", "tracking:artifact:delete"]


def test_an_artifact_directory_becomes_a_version_without_moving_a_byte(
    registry: Registry, tmp_path: Path
) -> None:
    model = registry.create_logged_model("0", name="clf")
    root = model.artifact_location.removeprefix("mlflow-artifacts:/")
    weights = os.urandom(2_500_000)
    registry.put_artifact(f"{root}/MLmodel", [b"flavors: {}\n"])
    registry.put_artifact(f"{root}/model/weights.bin", pieces(weights))
    manifest = registry.artifact_manifest(root)
    assert [(r.path, r.size) for r in manifest.files] == [
        ("MLmodel", 12),
        ("model/weights.bin", len(weights)),
    ]
    assert registry.artifact_manifest(f"{root}/MLmodel").files[0].path == "MLmodel"
    admin = registry.as_actor(Actor("root", role="admin"))
    report = admin.commit("clf", manifest)
    assert (report.version.version, report.bytes_new, report.chunks_new) == (1, 0, 0)
    pulled = Path(Client(admin).pull("clf/1", dest=tmp_path / "pulled"))
    assert (pulled / "model" / "weights.bin").read_bytes() == weights
    with pytest.raises(errors.ArtifactNotFound):
        registry.artifact_manifest("0/nothing/here")


# Integrity and garbage collection -------------------------------------------------------------------------
def chunk_file(store: ChunkStore, digest: str) -> Path:
    root = Path(store.url.removeprefix("file://"))
    hexa = digest_hex(Digest(digest))
    return next(root.rglob(hexa))


def test_a_corrupted_or_lost_chunk_is_a_corrupt_file(registry: Registry) -> None:
    data = os.urandom(3_000_000)
    entry = registry.put_artifact(f"{BASE}/w.bin", pieces(data))
    chunks = stored_chunks(registry, entry.path)
    damaged = chunk_file(registry.chunks, chunks[1][0])
    damaged.chmod(0o644)
    damaged.write_bytes(b"\x00" + damaged.read_bytes()[1:])
    _, stream = registry.open_artifact(entry.path)
    first = next(stream)
    assert first == data[: len(first)]  # the chunks before the damage are served
    with pytest.raises(errors.CorruptFile) as broken:
        b"".join(stream)
    assert broken.value.code == "CORRUPT_FILE" and broken.value.details == {"path": entry.path}
    damaged.unlink()
    with pytest.raises(errors.CorruptFile):
        read(registry, entry.path)


def test_an_artifacts_chunks_are_garbage_collection_roots(registry: Registry) -> None:
    admin = registry.as_actor(Actor("root", role="admin"))
    entry = registry.put_artifact(f"{BASE}/w.bin", pieces(os.urandom(2_000_000)))
    chunks = {digest for digest, _ in stored_chunks(registry, entry.path)}
    report = admin.collect_garbage(apply=True)  # grace 0: only references keep a chunk
    assert (report.referenced_chunks, report.deleted_chunks) == (len(chunks), 0)
    assert set(registry.chunks.iter()) == chunks
    assert len(read(registry, entry.path)) == 2_000_000
    registry.delete_artifact(entry.path)
    report = admin.collect_garbage(apply=True)
    assert (report.referenced_chunks, report.deleted_chunks) == (0, len(chunks))
    assert set(registry.chunks.iter()) == set()


def test_a_put_racing_a_sweep_of_its_chunks_fails_and_stores_nothing(registry: Registry) -> None:
    data = os.urandom(1_500_000)
    registry.put_artifact(f"{BASE}/first.bin", [data])
    chunks = [digest for digest, _ in stored_chunks(registry, f"{BASE}/first.bin")]
    registry.delete_artifact(f"{BASE}/first.bin")  # the chunks stay stored, referenced by nothing
    with registry.metadata.session(write=True) as session:  # a collection decided to delete them
        session.lock_collection()
        session.start_sweep(chunks, at=registry._now())
    with pytest.raises(errors.ChunkBeingCollected):
        registry.put_artifact(f"{BASE}/second.bin", [data])  # present, so not written again: refused
    assert registry.list_artifacts(BASE) == []
    with registry.metadata.session(write=True) as session:
        session.lock_collection()
        session.end_sweep()
    assert registry.put_artifact(f"{BASE}/second.bin", [data]).digest == sha256_bytes(data)


# Bad input and permissions --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("../x", "INVALID_PATH"),
        ("/abs/x", "INVALID_PATH"),
        ("0/../x", "INVALID_PATH"),
        ("0//x", "INVALID_PATH"),
        ("0\\x", "INVALID_PATH"),
        ("0/x\x00", "INVALID_PATH"),
        ("registry/m/1/x", "INVALID_PATH"),
        ("abc/x", "INVALID_PATH"),
        ("007/x", "INVALID_PATH"),
        ("0", "INVALID_PATH"),  # a file needs a name under the experiment
        ("", "INVALID_PATH"),
        ("0/" + "x" * 1100, "INVALID_PATH"),
        ("99/x", "EXPERIMENT_NOT_FOUND"),
    ],
)
def test_bad_paths_are_refused_and_store_nothing(registry: Registry, path: str, code: str) -> None:
    with pytest.raises(errors.ModelregError) as refused:
        registry.put_artifact(path, [b"data"])
    assert refused.value.code == code
    if code == "INVALID_PATH":
        with pytest.raises(errors.InvalidInput):
            registry.open_artifact(path)
    assert registry.list_artifacts() == [] and set(registry.chunks.iter()) == set()
    assert actions(registry) == []


def test_a_path_cannot_be_both_a_file_and_a_directory(registry: Registry) -> None:
    registry.put_artifact(f"{BASE}/a", [b"file"])
    with pytest.raises(errors.InvalidPath):
        registry.put_artifact(f"{BASE}/a/b", [b"under a file"])
    registry.put_artifact(f"{BASE}/d/e", [b"in a directory"])
    with pytest.raises(errors.InvalidPath):
        registry.put_artifact(f"{BASE}/d", [b"over a directory"])
    assert [e.path for e in registry.list_artifacts(BASE)] == [f"{BASE}/a", f"{BASE}/d"]


@pytest.mark.parametrize("content", [b"bytes, not pieces", "text", [b"ok", "text"], [b"ok", 3]])
def test_content_must_be_pieces_of_bytes(registry: Registry, content: object) -> None:
    with pytest.raises(errors.InvalidInput):
        registry.put_artifact(f"{BASE}/x", content)  # type: ignore[arg-type]
    assert registry.list_artifacts(BASE) == []


def test_viewers_read_contributors_write_and_others_neither(registry: Registry) -> None:
    registry.put_artifact(f"{BASE}/x", [b"x"])
    viewer = registry.as_actor(Actor("vic", role="viewer"))
    assert read(viewer, f"{BASE}/x") == b"x"
    assert [e.path for e in viewer.list_artifacts(BASE)] == [f"{BASE}/x"]
    assert viewer.artifact_manifest(BASE).files[0].path == "x"
    for write in (
        lambda: viewer.put_artifact(f"{BASE}/y", [b"y"]),
        lambda: viewer.delete_artifact(f"{BASE}/x"),
    ):
        with pytest.raises(errors.PermissionDenied):
            write()
    nobody = registry.as_actor(Actor("eve", role="none"))
    for call in (
        lambda: nobody.open_artifact(f"{BASE}/x"),
        nobody.list_artifacts,
        lambda: nobody.artifact_manifest(BASE),
    ):
        with pytest.raises(errors.PermissionDenied):
            call()
    assert [e.path for e in registry.list_artifacts(BASE)] == [f"{BASE}/x"]
