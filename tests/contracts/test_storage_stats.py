"""Storage statistics and per-push deduplication, on both SDKs × SQLite and PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modelreg import errors
from modelreg.client.client import Client
from modelreg.types import ModelStorage, StorageStats


def test_an_empty_registry_has_no_rows_and_a_ratio_of_one(reg: Client) -> None:
    stats = reg.storage_stats()
    assert stats == StorageStats(
        models=(), versions=0, logical_bytes=0, physical_bytes=0, chunks=0, dedup_ratio=1.0
    )


def test_logical_and_physical_bytes_per_model_and_in_total(reg: Client, model_dir: Path) -> None:
    first = reg.push("a", model_dir)
    size = first.size_bytes
    reg.push("a", model_dir)  # same files: no new chunk
    reg.push("b", model_dir)  # another model, same content
    chunks = reg.storage_stats("a").chunks
    assert chunks >= 4  # 3 MB of random bytes is several FastCDC chunks, plus the two small files

    stats = reg.storage_stats()
    assert stats.models == (
        ModelStorage("a", 2, 0, 2 * size, size, chunks, 2.0),
        ModelStorage("b", 1, 0, size, size, chunks, 1.0),
    )
    # The shared chunks count in both rows, once in the total: the rows sum to more than the total.
    assert (stats.versions, stats.logical_bytes, stats.physical_bytes, stats.chunks) == (
        3,
        3 * size,
        size,
        chunks,
    )
    assert stats.dedup_ratio == 3.0
    assert sum(row.physical_bytes for row in stats.models) == 2 * stats.physical_bytes


def test_one_model_only_and_its_total(reg: Client, model_dir: Path, tmp_path: Path) -> None:
    reg.push("a", model_dir)
    other = tmp_path / "other"
    other.mkdir()
    (other / "w.bin").write_bytes(os.urandom(100_000))
    reg.push("b", other)
    stats = reg.storage_stats("b")
    assert [row.name for row in stats.models] == ["b"]
    assert (stats.versions, stats.logical_bytes, stats.physical_bytes, stats.chunks) == (
        1,
        100_000,
        100_000,
        1,
    )


def test_deleted_versions_count_because_their_files_stay(reg: Client, model_dir: Path) -> None:
    size = reg.push("a", model_dir).size_bytes
    (model_dir / "config.json").write_text('{"layers": 4}')  # 13 bytes: one new chunk
    reg.push("a", model_dir)
    reg.delete_version("a/1")
    row = reg.storage_stats("a").models[0]
    assert (row.versions, row.deleted_versions, row.logical_bytes) == (2, 1, 2 * size)
    assert row.physical_bytes == size + len('{"layers": 4}')


def test_unknown_models_are_not_found_and_bad_names_refused(reg: Client) -> None:
    with pytest.raises(errors.ModelNotFound):
        reg.storage_stats("nope")
    with pytest.raises(errors.InvalidName):
        reg.storage_stats("bad name")


def test_each_push_reports_new_and_deduplicated_bytes(reg: Client, model_dir: Path, tmp_path: Path) -> None:
    first = reg.push("a", model_dir)
    assert reg.last_push is not None
    assert (reg.last_push.bytes_new, reg.last_push.bytes_deduplicated) == (first.size_bytes, 0)

    reg.push("b", model_dir)  # every chunk is already held by a/1
    assert (reg.last_push.bytes_new, reg.last_push.bytes_deduplicated) == (0, first.size_bytes)

    (model_dir / "sub" / "vocab.txt").write_text("a\nb\nc\nd\n")
    third = reg.push("a", model_dir)
    assert reg.last_push.bytes_new == 8 and reg.last_push.bytes_deduplicated == third.size_bytes - 8

    twice = tmp_path / "twice"  # one file's chunks repeated within the version: stored once
    twice.mkdir()
    data = os.urandom(50_000)
    (twice / "x.bin").write_bytes(data)
    (twice / "y.bin").write_bytes(data)
    reg.push("c", twice)
    assert (reg.last_push.bytes_new, reg.last_push.bytes_deduplicated) == (50_000, 50_000)


def test_a_version_of_empty_files_adds_nothing(reg: Client, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "nothing").write_bytes(b"")
    version = reg.push("e", empty)
    assert version.size_bytes == 0 and reg.last_push is not None and reg.last_push.bytes_new == 0
    assert reg.storage_stats("e").models[0] == ModelStorage("e", 1, 0, 0, 0, 0, 1.0)
