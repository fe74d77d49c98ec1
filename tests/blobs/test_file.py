"""What only the file backend promises: its layout, atomic publication, and errors from a broken disk."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from modelreg.blobs.file import FileChunkStore
from modelreg.digest import Digest, digest_hex, sha256_bytes
from modelreg.errors import ChunkNotFound, DigestMismatch, StorageUnavailable


def stored(data: bytes) -> tuple[Digest, bytes]:
    return sha256_bytes(data), data


def test_url_is_the_absolute_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = FileChunkStore(Path("chunks"))
    assert store.root == tmp_path / "chunks"
    assert store.url == f"file://{tmp_path}/chunks"


def test_nothing_is_created_until_the_first_put(tmp_path: Path) -> None:
    store = FileChunkStore(tmp_path / "chunks")
    assert store.missing([sha256_bytes(b"x")]) == {sha256_bytes(b"x")}
    assert list(store.iter()) == []
    assert not (tmp_path / "chunks").exists()


def test_layout_is_sha256_two_levels_of_hex(tmp_path: Path) -> None:
    store = FileChunkStore(tmp_path / "chunks")
    digest, data = stored(b"layout")
    store.put(digest, data)
    hex_ = digest_hex(digest)
    path = tmp_path / "chunks" / "sha256" / hex_[0:2] / hex_[2:4] / hex_
    assert path.read_bytes() == data
    files = sorted(p.relative_to(tmp_path / "chunks").as_posix() for p in (tmp_path / "chunks").rglob("*"))
    assert files == [
        "sha256",
        f"sha256/{hex_[0:2]}",
        f"sha256/{hex_[0:2]}/{hex_[2:4]}",
        f"sha256/{hex_[0:2]}/{hex_[2:4]}/{hex_}",
        "tmp",
    ]


def test_no_temp_files_are_left_after_puts(tmp_path: Path) -> None:
    store = FileChunkStore(tmp_path / "chunks")
    chunks = [stored(os.urandom(10_000)) for _ in range(20)]
    for digest, data in chunks + chunks:
        store.put(digest, data)
    with pytest.raises(DigestMismatch, match="does not match"):
        store.put(chunks[0][0], b"tampered")
    assert list((tmp_path / "chunks" / "tmp").iterdir()) == []
    assert len(list((tmp_path / "chunks" / "sha256").rglob("*/*/*"))) == 20


def test_a_temp_file_left_by_a_crash_is_ignored(tmp_path: Path) -> None:
    store = FileChunkStore(tmp_path / "chunks")
    kept, crashed = stored(b"published"), stored(b"half written")
    store.put(*kept)
    # A writer that died before publishing leaves a (possibly partial) temp file and nothing else.
    leftover = tmp_path / "chunks" / "tmp" / f"{digest_hex(crashed[0])}.0123456789abcdef.tmp"
    leftover.write_bytes(crashed[1][:4])
    assert list(store.iter()) == [kept[0]]
    assert store.missing([kept[0], crashed[0]]) == {crashed[0]}
    with pytest.raises(ChunkNotFound):
        store.get(crashed[0])
    assert store.put(*crashed) is True
    assert store.get(crashed[0]) == crashed[1]


def test_iter_skips_files_that_are_not_chunks(tmp_path: Path) -> None:
    store = FileChunkStore(tmp_path / "chunks")
    digest, data = stored(b"real")
    store.put(digest, data)
    hex_ = digest_hex(digest)
    objects = tmp_path / "chunks" / "sha256"
    (objects / "README").write_text("not a chunk")
    (objects / hex_[0:2] / hex_[2:4] / "notes.txt").write_text("not a chunk")
    misplaced = digest_hex(sha256_bytes(b"elsewhere"))
    (objects / hex_[0:2] / hex_[2:4] / misplaced).write_bytes(b"elsewhere")  # not under its own prefix
    assert list(store.iter()) == [digest]


def test_a_put_recreates_directories_removed_behind_its_back(tmp_path: Path) -> None:
    store = FileChunkStore(tmp_path / "chunks")
    first, second = stored(b"first"), stored(b"second")
    store.put(*first)
    (tmp_path / "chunks" / "tmp").rmdir()  # an operator cleaning up temp files, directory and all
    assert store.put(*second) is True
    assert store.get(second[0]) == second[1]


def test_a_root_that_is_a_file_makes_the_store_unavailable(tmp_path: Path) -> None:
    (tmp_path / "chunks").write_text("not a directory")
    store = FileChunkStore(tmp_path / "chunks")
    digest, data = stored(b"x")
    calls = [
        lambda: store.put(digest, data),
        lambda: store.get(digest),
        lambda: store.exists(digest),
        lambda: store.missing([digest]),
        lambda: store.size(digest),
        lambda: store.delete(digest),
        lambda: list(store.iter()),
    ]
    for call in calls:
        with pytest.raises(StorageUnavailable) as caught:
            call()
        assert caught.value.message.startswith("chunk store unavailable: ")
        assert "Not a directory" in caught.value.message
        assert caught.value.details["url"] == store.url
        assert caught.value.retryable is True


def test_an_unwritable_root_makes_puts_unavailable(tmp_path: Path) -> None:
    # A file where the store's directories should be fails for root too (unlike a chmod).
    root = tmp_path / "chunks"
    root.mkdir()
    (root / "tmp").write_text("in the way")
    (root / "sha256").write_text("in the way")
    with pytest.raises(StorageUnavailable) as caught:
        FileChunkStore(root).put(*stored(b"x"))
    assert caught.value.code == "STORAGE_UNAVAILABLE" and caught.value.retryable is True


def test_an_unreadable_chunk_is_unavailable_not_missing(tmp_path: Path) -> None:
    store = FileChunkStore(tmp_path / "chunks")
    digest, data = stored(b"unreadable")
    store.put(digest, data)
    hex_ = digest_hex(digest)
    path = tmp_path / "chunks" / "sha256" / hex_[0:2] / hex_[2:4] / hex_
    path.unlink()
    path.mkdir()  # a directory where the chunk file should be: reading it fails with EISDIR
    with pytest.raises(StorageUnavailable, match="Is a directory"):
        store.get(digest)


def test_a_truncated_chunk_is_a_digest_mismatch(tmp_path: Path) -> None:
    store = FileChunkStore(tmp_path / "chunks")
    digest, data = stored(os.urandom(5000))
    store.put(digest, data)
    hex_ = digest_hex(digest)
    path = tmp_path / "chunks" / "sha256" / hex_[0:2] / hex_[2:4] / hex_
    os.truncate(path, 100)
    with pytest.raises(DigestMismatch, match=f"stored chunk {digest} is corrupted") as caught:
        store.get(digest)
    assert caught.value.details["actual"] == sha256_bytes(data[:100])


def test_two_stores_on_one_root_share_chunks(tmp_path: Path) -> None:
    # Several server processes may serve one directory: a chunk one writes, the other sees and skips.
    first, second = FileChunkStore(tmp_path / "chunks"), FileChunkStore(tmp_path / "chunks")
    digest, data = stored(b"shared")
    assert first.put(digest, data) is True
    assert second.put(digest, data) is False
    assert second.get(digest) == data


def test_filesystems_without_hard_links_publish_by_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(source: str, target: str) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")  # what e.g. some FUSE mounts answer

    monkeypatch.setattr(os, "link", no_links)
    store = FileChunkStore(tmp_path / "chunks")
    digest, data = stored(os.urandom(3000))
    assert store.put(digest, data) is True
    assert store.put(digest, data) is False
    assert store.get(digest) == data
    assert list((tmp_path / "chunks" / "tmp").iterdir()) == []
