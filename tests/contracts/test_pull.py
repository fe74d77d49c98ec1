"""Pulling through the chunk reader: authorised once per version, never a way to read other content.

Runs on both SDKs (``reg``: embedded and HTTP) × SQLite and PostgreSQL. The reader is what ``pull`` uses;
these tests call it through the SDK's backend to check its edges directly.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from modelreg import errors
from modelreg.client.client import Client
from modelreg.digest import sha256_bytes
from tests.conftest import tree_bytes


def _chunks(reg: Client, ref: str) -> list[str]:
    _, manifest = reg._backend.manifest(ref)
    return [chunk.digest for record in manifest.files for chunk in record.chunks]


def test_the_reader_serves_the_version_chunks_verified(reg: Client, model_dir: Path) -> None:
    reg.push("m", model_dir)
    read = reg._backend.chunk_reader("m/1")
    digests = _chunks(reg, "m/1")
    assert len(digests) >= 3
    for digest in digests:
        assert sha256_bytes(read(digest)) == digest


def test_the_reader_refuses_chunks_of_other_versions(reg: Client, model_dir: Path, tmp_path: Path) -> None:
    reg.push("m", model_dir)
    other = tmp_path / "other"
    other.mkdir()
    (other / "secret.bin").write_bytes(b"only in the other model " * 1000)
    reg.push("other", other)
    foreign = _chunks(reg, "other/1")[0]
    read = reg._backend.chunk_reader("m/1")
    with pytest.raises(errors.ChunkNotFound) as caught:
        read(foreign)
    assert caught.value.code == "CHUNK_NOT_FOUND"
    with pytest.raises(errors.InvalidDigest):
        read("sha256:not-hex")


def test_the_reader_is_authorised_like_a_pull(reg: Client, model_dir: Path) -> None:
    reg.push("m", model_dir)
    reg.push("m", model_dir)
    reg.delete_version("m/2")
    with pytest.raises(errors.VersionDeleted) as deleted:
        reg._backend.chunk_reader("m/2")("sha256:" + "0" * 64)  # HTTP checks on the request
    assert deleted.value.code == "VERSION_DELETED"
    with pytest.raises(errors.VersionNotFound):
        reg._backend.chunk_reader("m/9")("sha256:" + "0" * 64)
    with pytest.raises(errors.ModelNotFound):
        reg._backend.chunk_reader("nobody/1")("sha256:" + "0" * 64)


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
