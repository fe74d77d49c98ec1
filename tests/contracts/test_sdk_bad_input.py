"""Bad input through the SDK: a stable error code, a clear message, and nothing stored changes."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import pytest

from modelreg import errors
from modelreg.client.client import Client


def snapshot(reg: Client) -> list[Any]:
    """Everything a user can see: models, every version (deleted too) with its metadata and aliases."""
    models = reg.list_models(limit=1000).items
    versions = [reg.list_versions(m.name, include_deleted=True, limit=1000).items for m in models]
    return [models, versions]


@pytest.fixture
def seeded(reg: Client, model_dir: Path) -> Client:
    reg.push("m", model_dir, metrics={"auc": 0.9}, tags={"team": "risk"}, aliases=["champion"])
    return reg


@pytest.mark.parametrize("name", ["", "a b", "-lead", ".hidden", "a/b", "a@b", "x" * 129, "ü", "a\x00b"])
def test_invalid_model_names(seeded: Client, model_dir: Path, name: str) -> None:
    before = snapshot(seeded)
    with pytest.raises(errors.InvalidName) as caught:
        seeded.push(name, model_dir)
    assert caught.value.code == "INVALID_NAME" and "invalid model name" in caught.value.message
    assert snapshot(seeded) == before


@pytest.mark.parametrize("alias", ["", "latest", "v3", "V12", "sha256", "1st", "a b", "a.b", "x" * 256])
def test_invalid_aliases(seeded: Client, model_dir: Path, alias: str) -> None:
    before = snapshot(seeded)
    with pytest.raises(errors.InvalidAlias) as caught:
        seeded.set_alias("m", alias, 1)
    assert caught.value.code == "INVALID_ALIAS"
    with pytest.raises(errors.InvalidAlias):
        seeded.push("m", model_dir, aliases=["ok", alias])
    assert snapshot(seeded) == before


@pytest.mark.parametrize(
    ("metrics", "fragment"),
    [
        ({"auc": math.nan}, "not a finite number"),
        ({"auc": math.inf}, "not a finite number"),
        ({"auc": "0.9"}, "must be a number"),
        ({"auc": True}, "must be a number"),
        ({"bad key!": 1.0}, "invalid metric key"),
    ],
)
def test_invalid_metrics(seeded: Client, model_dir: Path, metrics: dict[str, Any], fragment: str) -> None:
    before = snapshot(seeded)
    with pytest.raises(errors.InvalidMetadata) as caught:
        seeded.push("m", model_dir, metrics=metrics)
    assert caught.value.code == "INVALID_METADATA" and fragment in caught.value.message
    assert snapshot(seeded) == before


def test_oversized_and_malformed_metadata(seeded: Client, model_dir: Path) -> None:
    before = snapshot(seeded)
    cases: list[dict[str, Any]] = [
        {"tags": {"team": "x" * 5001}},
        {"tags": {"team": 3}},
        {"params": {"p": "x" * 6001}},
        {"description": "x" * 70_000},
        {"lineage": {"unknown": 1}},
        {"lineage": {"datasets": [{"uri": "s3://no-name"}]}},
        {"lineage": "run-1"},
        {"signature": {"inputs": [math.nan]}},
        {"signature": ["not", "a", "mapping"]},
    ]
    for kwargs in cases:
        with pytest.raises(errors.InvalidMetadata):
            seeded.push("m", model_dir, **kwargs)
    with pytest.raises(errors.InvalidMetadata):
        seeded.set_tag("m/1", "team", "x" * 5001)
    with pytest.raises(errors.InvalidMetadata):
        seeded.set_tag("m", "bad key!", "v")
    assert snapshot(seeded) == before


@pytest.mark.parametrize(
    "ref",
    ["", "m/0", "m/-1", "m/1.5", "m/abc", "m@", "m@sha256:XYZ", "m@sha256:" + "A" * 64, "a b/1", "m/1/2"],
)
def test_invalid_references(seeded: Client, ref: str) -> None:
    with pytest.raises(errors.InvalidReference) as caught:
        seeded.get_version(ref)
    assert caught.value.code == "INVALID_REFERENCE"


@pytest.mark.parametrize(
    "text",
    [
        "metrics.auc >",
        "metrics.auc > 'high'",
        "name = ",
        "unknown_field = 1",
        "name = 'x' AND",
        "(name = 'x'",
        "name = 'unterminated",
        "metrics.auc > 0.5 garbage",
        "name LIKE 3",
        "name IN ()",
    ],
)
def test_malformed_filters(seeded: Client, text: str) -> None:
    with pytest.raises(errors.InvalidFilter) as caught:
        seeded.search_versions(text)
    assert caught.value.code == "INVALID_FILTER" and "position" in caught.value.message


def test_malformed_order_by_and_limits(seeded: Client) -> None:
    with pytest.raises(errors.InvalidFilter):
        seeded.search_versions(order_by=["nonsense DESC"])
    with pytest.raises(errors.InvalidFilter):
        seeded.search_versions(order_by=["metrics.auc SIDEWAYS"])
    for limit in (0, -1, 1001):
        with pytest.raises(errors.InvalidInput):
            seeded.search_versions(limit=limit)


def test_empty_and_missing_directories(seeded: Client, tmp_path: Path) -> None:
    before = snapshot(seeded)
    (tmp_path / "empty" / "nested").mkdir(parents=True)
    with pytest.raises(errors.EmptyModel) as caught:
        seeded.push("m", tmp_path / "empty")
    assert caught.value.code == "EMPTY_MODEL"
    with pytest.raises(errors.PathNotFound):
        seeded.push("m", tmp_path / "does-not-exist")
    assert snapshot(seeded) == before


def test_symlink_outside_the_pushed_directory_is_refused(seeded: Client, tmp_path: Path) -> None:
    before = snapshot(seeded)
    secret = tmp_path / "secret.txt"
    secret.write_text("do not upload")
    root = tmp_path / "leaky"
    root.mkdir()
    (root / "weights.bin").write_bytes(b"w")
    (root / "leak.txt").symlink_to(secret)
    with pytest.raises(errors.InvalidPath) as caught:
        seeded.push("m", root)
    assert caught.value.code == "INVALID_PATH" and "outside" in caught.value.message
    (root / "leak.txt").unlink()
    (root / "link-dir").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(errors.InvalidPath):
        seeded.push("m", root)
    assert snapshot(seeded) == before


def test_symlink_inside_the_pushed_directory_is_pushed_as_a_file(reg: Client, tmp_path: Path) -> None:
    root = tmp_path / "model"
    root.mkdir()
    (root / "weights.bin").write_bytes(b"weights")
    (root / "alias.bin").symlink_to(root / "weights.bin")
    version = reg.push("m", root)
    assert {f.path: f.size for f in version.files} == {"alias.bin": 7, "weights.bin": 7}


def test_file_names_with_backslashes_or_control_characters_are_refused(
    seeded: Client, tmp_path: Path
) -> None:
    before = snapshot(seeded)
    for bad in ("back\\slash.bin", "tab\there.bin"):
        root = tmp_path / f"model-{len(bad)}"
        root.mkdir()
        (root / bad).write_bytes(b"x")
        with pytest.raises(errors.InvalidPath) as caught:
            seeded.push("m", root)
        assert caught.value.code == "INVALID_PATH"
    assert snapshot(seeded) == before


def test_unreadable_file_is_a_clear_error(seeded: Client, tmp_path: Path) -> None:
    if os.geteuid() == 0:
        fifo_root = tmp_path / "fifo"
        fifo_root.mkdir()
        os.mkfifo(fifo_root / "pipe")
        with pytest.raises(errors.InvalidPath) as caught:
            seeded.push("m", fifo_root)
        assert "not a regular file" in caught.value.message
    else:
        root = tmp_path / "locked"
        root.mkdir()
        (root / "w.bin").write_bytes(b"x")
        (root / "w.bin").chmod(0)
        with pytest.raises(errors.InvalidPath):
            seeded.push("m", root)


def test_errors_on_unknown_targets_change_nothing(seeded: Client) -> None:
    before = snapshot(seeded)
    with pytest.raises(errors.ModelNotFound):
        seeded.set_alias("nope", "champion", 1)
    with pytest.raises(errors.VersionNotFound):
        seeded.set_tag("m/9", "k", "v")
    with pytest.raises(errors.ModelNotFound):
        seeded.update_description("nope", "x")
    with pytest.raises(errors.InvalidInput):
        seeded.set_alias("m", "champion", 0)
    assert snapshot(seeded) == before


def test_a_failing_chunk_store_is_a_clean_error_and_registers_nothing(
    database: str, tmp_path: Path, model_dir: Path
) -> None:
    import modelreg

    broken = tmp_path / "broken-store"
    broken.mkdir()
    (broken / "tmp").write_text("a file where the store needs a directory")
    (broken / "sha256").write_text("likewise")
    with modelreg.connect(database, storage=f"file://{broken}") as reg:
        with pytest.raises(errors.StorageUnavailable) as caught:  # not a BufferError from the mapped file
            reg.push("m", model_dir)
        assert caught.value.code == "STORAGE_UNAVAILABLE"
        assert reg.list_models().items == []
