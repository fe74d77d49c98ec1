"""Pulling through ``read_chunks``: a batch of a version's chunks, never a way to read other content.

Runs on both SDKs (``reg``: embedded and HTTP) × SQLite and PostgreSQL. It is what ``pull`` uses (over HTTP
one ``POST …/chunks/read`` per batch); these tests call it through the SDK's backend to check its edges.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from modelreg import errors
from modelreg.client.client import Client
from modelreg.digest import sha256_bytes
from modelreg.registry.manifest import ChunkRef
from tests.conftest import tree_bytes

NOWHERE = ChunkRef("sha256:" + "0" * 64, 1)


def _chunks(reg: Client, ref: str) -> list[ChunkRef]:
    _, manifest = reg._backend.manifest(ref)
    return [chunk for record in manifest.files for chunk in record.chunks]


def test_a_batch_serves_the_version_chunks_verified_in_the_order_asked(reg: Client, model_dir: Path) -> None:
    reg.push("m", model_dir)
    chunks = _chunks(reg, "m/1")
    assert len(chunks) >= 3
    asked = [*reversed(chunks), chunks[0]]  # any order, the same chunk twice
    received = list(reg._backend.read_chunks("m/1", asked))
    assert [sha256_bytes(data) for data in received] == [chunk.digest for chunk in asked]
    assert [len(data) for data in received] == [chunk.size for chunk in asked]
    assert list(reg._backend.read_chunks("m/latest", [])) == []


def test_a_batch_refuses_chunks_of_other_versions_and_wrong_sizes(
    reg: Client, model_dir: Path, tmp_path: Path
) -> None:
    reg.push("m", model_dir)
    other = tmp_path / "other"
    other.mkdir()
    (other / "secret.bin").write_bytes(b"only in the other model " * 1000)
    reg.push("other", other)
    own, foreign = _chunks(reg, "m/1")[0], _chunks(reg, "other/1")[0]
    with pytest.raises(errors.ChunkNotFound) as caught:
        list(reg._backend.read_chunks("m/1", [own, foreign]))  # nothing is read when one is not the version's
    assert caught.value.code == "CHUNK_NOT_FOUND"
    assert foreign.digest in caught.value.message
    with pytest.raises(errors.ChunkNotFound):
        list(reg._backend.read_chunks("m/1", [ChunkRef(own.digest, own.size + 1)]))
    with pytest.raises(errors.InvalidDigest):
        list(reg._backend.read_chunks("m/1", [ChunkRef("sha256:not-hex", 1)]))


def test_a_batch_is_authorised_like_a_pull(reg: Client, model_dir: Path) -> None:
    reg.push("m", model_dir)
    reg.push("m", model_dir)
    chunk = _chunks(reg, "m/2")[0]
    reg.delete_version("m/2")
    with pytest.raises(errors.VersionDeleted) as deleted:
        list(reg._backend.read_chunks("m/2", [chunk]))
    assert deleted.value.code == "VERSION_DELETED"
    with pytest.raises(errors.VersionNotFound):
        list(reg._backend.read_chunks("m/9", [NOWHERE]))
    with pytest.raises(errors.ModelNotFound):
        list(reg._backend.read_chunks("nobody/1", [NOWHERE]))


def test_a_pull_of_many_chunks_and_files_is_byte_exact(reg: Client, tmp_path: Path) -> None:
    """Chunks are written at their offsets by pool threads; the files must still be exact, in every size."""
    model = tmp_path / "model"
    (model / "deep" / "er").mkdir(parents=True)
    contents = {
        "big.bin": os.urandom(9 * 1024 * 1024 + 7),  # several FastCDC chunks
        "deep/er/small.txt": b"tiny",
        "empty.bin": b"",
        "zeros.bin": bytes(5 * 1024 * 1024),  # identical chunks, written at different offsets
    }
    for name, data in contents.items():
        (model / name).write_bytes(data)
    version = reg.push("m", model)
    pulled = Path(reg.pull("m", dest=tmp_path / "pulls" / "out"))
    assert tree_bytes(pulled) == contents
    for entry in version.files:
        assert entry.digest == "sha256:" + hashlib.sha256(contents[entry.path]).hexdigest()
    assert [p.name for p in pulled.parent.iterdir()] == ["out"]  # no staging directory left behind


def test_a_pull_of_more_files_than_a_batch_holds_is_byte_exact(reg: Client, tmp_path: Path) -> None:
    """Batches span files (many small files take a few requests); a batch ends inside a file too."""
    model = tmp_path / "model"
    model.mkdir()
    contents = {f"part-{index:03}.txt": os.urandom(index + 1) for index in range(300)}
    contents["big.bin"] = os.urandom(12 * 1024 * 1024)  # crosses an 8 MiB batch boundary
    for name, data in contents.items():
        (model / name).write_bytes(data)
    reg.push("many", model)
    pulled = Path(reg.pull("many", dest=tmp_path / "out"))
    assert tree_bytes(pulled) == contents
