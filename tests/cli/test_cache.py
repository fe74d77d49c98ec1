"""``modelreg cache info|prune|clear`` in process, on a cache directory of real entries; bad settings."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from tests.cli_runs import run

from modelreg.cli.inputs import parse_duration, parse_size
from modelreg.digest import sha256_bytes
from modelreg.errors import InvalidInput
from modelreg.transfer.cache import ChunkCache


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Three pulled files of 1,000, 2,000 and 3,000 bytes, in the cache, last used 40, 20 and 0 days ago."""
    for name in ("MODELREG_CACHE_DIR", "MODELREG_CACHE_MAX_BYTES"):
        monkeypatch.delenv(name, raising=False)
    for size, days in ((1000, 40), (2000, 20), (3000, 0)):
        cache = ChunkCache(tmp_path / "cache", clock=lambda days=days: time.time() - days * 86_400)
        pulled = tmp_path / f"pulled-{size}"
        pulled.write_bytes(b"")
        [entry] = cache.adopt([pulled])
        assert entry is not None
        data = os.urandom(size)
        pulled.write_bytes(data)
        cache.keep([(entry, 0, sha256_bytes(data), data)])
        cache.close()
    return tmp_path / "cache"


def test_info_reports_entries_bytes_and_the_bound(
    cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(capsys, "cache", "info", "--dir", str(cache_dir), "--json")
    assert status == 0
    assert json.loads(out) == {
        "dir": str(cache_dir),
        "max_bytes": None,
        "entries": 3,
        "chunks": 3,
        "bytes": 6000,
        "linked_bytes": 6000,
        "removed_entries": 0,
        "removed_bytes": 0,
    }
    status, out, _ = run(capsys, "cache", "info", "--dir", str(cache_dir))
    assert (status, out) == (
        0,
        f"{cache_dir}: 3 files, 3 chunks, 6.0 kB, 6.0 kB of it shared with pulled files (unbounded)\n",
    )


def test_prune_by_age_then_by_size(cache_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "--json", "cache", "prune", "--dir", str(cache_dir), "--unused-for", "30d")
    assert status == 0
    assert json.loads(out) | {"dir": ""} == {
        "dir": "",
        "entries": 2,
        "chunks": 2,
        "bytes": 5000,
        "linked_bytes": 5000,
        "removed_entries": 1,
        "removed_bytes": 1000,
    }
    status, out, _ = run(capsys, "cache", "prune", "--dir", str(cache_dir), "--max-size", "3kB")
    assert (status, out) == (0, f"removed 1 files (2.0 kB); 1 left (3.0 kB) in {cache_dir}\n")


def test_prune_defaults_to_the_configured_bound(
    cache_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELREG_CACHE_DIR", str(cache_dir))
    monkeypatch.setenv("MODELREG_CACHE_MAX_BYTES", "5000")
    status, out, _ = run(capsys, "--json", "cache", "prune")
    assert status == 0 and json.loads(out)["bytes"] == 5000
    status, out, _ = run(capsys, "--json", "cache", "info")
    assert status == 0 and json.loads(out)["max_bytes"] == 5000


def test_clear_removes_every_entry_and_no_pulled_file(
    cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(capsys, "cache", "clear", "--dir", str(cache_dir))
    assert (status, out) == (0, f"removed 3 files (6.0 kB); 0 left (0 B) in {cache_dir}\n")
    assert ChunkCache(cache_dir).usage().entries == 0
    assert sorted(path.stat().st_size for path in cache_dir.parent.glob("pulled-*")) == [1000, 2000, 3000]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give --max-size or --unused-for (or set MODELREG_CACHE_MAX_BYTES)"),
        (("--max-size", "lots"), "invalid size 'lots'"),
        (("--max-size", "-1"), "invalid size '-1'"),
        (("--unused-for", "3y"), "invalid duration '3y'"),
    ],
)
def test_bad_prune_arguments_remove_nothing(
    cache_dir: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    status, out, err = run(capsys, "cache", "prune", "--dir", str(cache_dir), *args)
    assert (status, out) == (2, "")
    assert err.startswith(f"error: INVALID_INPUT: {message}")
    assert ChunkCache(cache_dir).usage().entries == 3


def test_an_invalid_setting_is_a_one_line_error_naming_the_variable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELREG_CACHE_MAX_BYTES", "a lot")
    status, out, err = run(capsys, "cache", "info", "--dir", str(tmp_path))
    assert (status, out) == (2, "")
    assert err.startswith("error: INVALID_INPUT: invalid setting MODELREG_CACHE_MAX_BYTES: ")
    monkeypatch.delenv("MODELREG_CACHE_MAX_BYTES")
    monkeypatch.setenv("MODELREG_WORKERS", "many")
    status, out, err = run(capsys, "--registry", str(tmp_path / "reg"), "models")
    assert (status, out) == (2, "")
    assert err.startswith("error: INVALID_INPUT: invalid setting MODELREG_WORKERS: ")
    assert not (tmp_path / "reg").exists()  # refused before the registry was opened or created


def test_parse_size_and_duration() -> None:
    assert parse_size("20GiB") == 20 * 2**30
    assert parse_size("500MB") == 500_000_000
    assert parse_size("1234") == 1234
    assert parse_duration("90m").total_seconds() == 5400
    assert parse_duration("2w").days == 14
    for bad in ("", "GiB", "1.5.5GB"):
        with pytest.raises(InvalidInput, match="invalid size"):
            parse_size(bad)
    for bad in ("", "0d", "5", "1.5h"):
        with pytest.raises(InvalidInput, match="invalid duration"):
            parse_duration(bad)
