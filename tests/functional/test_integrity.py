"""Damaged storage is an error, never silent, and a failed pull leaves the destination exactly as it was.

DESIGN §4 invariant 3: every byte served is verified against its sha256. The damage is done the way it
happens in real life: to the chunk files on disk, behind the registry's back.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

import modelreg
from modelreg.client.client import Client
from modelreg.errors import ChunkNotFound, CorruptFile, IntegrityError
from tests.conftest import tree_bytes


def chunk_files(storage_url: str) -> list[Path]:
    store = Path(storage_url.removeprefix("file://"))
    return sorted(
        (path for path in store.glob("sha256/*/*/*") if path.is_file()), key=lambda p: p.stat().st_size
    )


def weights_chunk(storage_url: str) -> Path:
    """A chunk of ``weights.bin``: the 3 MB file is the only content big enough to fill the largest chunk."""
    files = chunk_files(storage_url)
    assert len(files) >= 3 and files[-1].stat().st_size > 100_000, files
    return files[-1]


def flip_middle_byte(path: Path) -> None:
    with open(path, "r+b") as handle:
        handle.seek(path.stat().st_size // 2)
        byte = handle.read(1)
        handle.seek(-1, 1)
        handle.write(bytes([byte[0] ^ 0xFF]))


def truncate_by_one(path: Path) -> None:
    with open(path, "r+b") as handle:
        handle.truncate(path.stat().st_size - 1)


def neighbours(dest: Path) -> list[str]:
    """Everything beside ``dest``: a failed pull must leave no staging or backup directory there."""
    return sorted(path.name for path in dest.parent.iterdir())


@pytest.mark.parametrize("damage", [flip_middle_byte, truncate_by_one], ids=["flipped-byte", "truncated"])
def test_corrupt_chunk_fails_the_pull_and_names_the_file(
    reg: Client, model_dir: Path, storage_url: str, tmp_path: Path, damage: Callable[[Path], None]
) -> None:
    version = reg.push("guarded", model_dir)
    damage(weights_chunk(storage_url))

    fresh = tmp_path / "fresh" / "model"
    with pytest.raises(CorruptFile) as raised:
        reg.pull("guarded", dest=fresh)
    error = raised.value
    assert isinstance(error, IntegrityError)
    assert error.code == "CORRUPT_FILE"
    assert "'weights.bin'" in error.message
    assert f"{version.ref}" in error.message
    assert error.details["path"] == "weights.bin"
    assert not fresh.exists()
    assert neighbours(fresh) == []

    existing = tmp_path / "existing" / "model"
    (existing / "nested").mkdir(parents=True)
    (existing / "old.bin").write_bytes(b"previous deployment\x00\xff")
    (existing / "nested" / "keep.txt").write_text("still here\n")
    previous = tree_bytes(existing)
    with pytest.raises(CorruptFile, match=r"weights\.bin"):
        reg.pull("guarded/1", dest=existing, overwrite=True)
    assert tree_bytes(existing) == previous
    assert neighbours(existing) == ["model"]

    # The other files are intact and the damage is in storage, not in the version: it stays listed as is.
    assert reg.get_version("guarded").digest == version.digest


def test_missing_chunk_fails_the_pull_and_leaves_dest_alone(
    reg: Client, model_dir: Path, storage_url: str, tmp_path: Path
) -> None:
    reg.push("guarded", model_dir)
    lost = weights_chunk(storage_url)
    lost.unlink()

    dest = tmp_path / "deploy" / "model"
    dest.mkdir(parents=True)
    (dest / "serving.bin").write_bytes(b"the model being served")
    with pytest.raises((ChunkNotFound, CorruptFile)) as raised:
        reg.pull("guarded", dest=dest, overwrite=True)
    error = raised.value
    assert error.code == type(error).code
    assert error.code in {"CHUNK_NOT_FOUND", "CORRUPT_FILE"}
    assert f"sha256:{lost.name}" in error.message or "'weights.bin'" in error.message, error.message
    assert tree_bytes(dest) == {"serving.bin": b"the model being served"}
    assert neighbours(dest) == ["model"]

    fresh = tmp_path / "fresh" / "model"
    with pytest.raises((ChunkNotFound, CorruptFile)):
        reg.pull("guarded", dest=fresh)
    assert not fresh.exists()
    assert neighbours(fresh) == []


def test_repush_after_chunk_loss_repairs_the_store(
    reg: Client, model_dir: Path, storage_url: str, tmp_path: Path
) -> None:
    """DESIGN §4.1: a committed version has every chunk present. A re-push of a file whose chunk was lost
    uploads that chunk again (the file is local), so both versions pull intact."""
    reg.push("guarded", model_dir)
    lost = weights_chunk(storage_url)
    lost.unlink()

    again = reg.push("guarded", model_dir)
    assert again.version == 2
    assert reg.last_push is not None and 0 < reg.last_push.bytes_stored < reg.last_push.bytes_total
    assert lost.exists()
    for ref in ("guarded/2", "guarded/1"):
        pulled = Path(reg.pull(ref, dest=tmp_path / ref.replace("/", "-")))
        assert tree_bytes(pulled) == tree_bytes(model_dir)


def test_corrupt_cache_entry_is_refetched_not_served(
    database: str, storage_url: str, model_dir: Path, tmp_path: Path
) -> None:
    """The local pull cache is verified too: a damaged chunk is dropped and read again from the store. The
    cache's entry for a pulled file is that file (a hard link), so editing the file damages the entry."""
    cache = tmp_path / "cache"
    with modelreg.connect(database, storage=storage_url, actor="alice", cache_dir=cache) as reg:
        reg.push("cached", model_dir)
        first = Path(reg.pull("cached", dest=tmp_path / "first"))
        assert reg.last_pull is not None and reg.last_pull.bytes_fetched == reg.last_pull.bytes_total
        weights = first / "weights.bin"
        flip_middle_byte(weights)
        middle = weights.stat().st_size // 2
        with contextlib.closing(sqlite3.connect(cache / "index.db")) as index:
            [(damaged,)] = index.execute(
                "SELECT size FROM chunks WHERE position <= ? AND position + size > ? AND size > 100000",
                (middle, middle),
            ).fetchall()

        dest = Path(reg.pull("cached", dest=tmp_path / "second"))
        assert tree_bytes(dest) == tree_bytes(model_dir)
        assert reg.last_pull is not None
        assert 0 < reg.last_pull.bytes_fetched == damaged < weights.stat().st_size  # only the damaged chunk
