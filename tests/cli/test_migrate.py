"""``modelreg migrate`` in process: the summary, --json, and a stable code and exit status for bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from tests.cli_runs import run

import modelreg


@pytest.fixture
def source(tmp_path: Path) -> Path:
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "w.bin").write_bytes(os.urandom(100_000))
    with modelreg.connect(tmp_path / "source") as reg:
        reg.push("m", tmp_path / "files", aliases=["champion"])
    return tmp_path / "source"


def test_migrate_to_a_directory_prints_each_table_and_the_verdict(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, "--registry", str(source), "migrate", "--to", str(tmp_path / "copy"))
    assert (status, err) == (0, "")
    table = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:] if line.startswith("version")}
    assert table["versions"] == ["1", "1", "ok"] and table["version_files"] == ["1", "1", "ok"]
    assert "chunks: 1 referenced, 0 already in the target, 1 copied (100.0 kB)" in out
    assert out.splitlines()[-1] == "migration verified: the target equals the source"
    status, out, _ = run(
        capsys, "--registry", str(source), "--json", "migrate", "--to", str(tmp_path / "copy")
    )
    assert status == 0 and json.loads(out)["chunks_present"] == 1


def test_a_target_that_fails_verification_exits_with_migration_incomplete(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "--registry", str(source), "migrate", "--to", str(tmp_path / "copy"))
    chunk = next(path for path in (tmp_path / "copy" / "chunks").rglob("*") if path.is_file())
    chunk.chmod(0o644)
    chunk.write_bytes(b"\0" * 100_000)
    status, out, err = run(capsys, "--registry", str(source), "migrate", "--to", str(tmp_path / "copy"))
    assert status == 5 and out.splitlines()[-1] == "migration INCOMPLETE"
    assert err.splitlines()[0].startswith("problem: chunk sha256:")
    assert err.splitlines()[-1].startswith("error: MIGRATION_INCOMPLETE: the target differs from the source")


@pytest.mark.parametrize(
    "arguments",
    [
        ["migrate"],
        ["migrate", "--to-database", "sqlite:////tmp/x.db"],
        ["migrate", "--to", "d", "--to-database", "sqlite:////tmp/x.db"],
        ["migrate", "--to-database", "mysql://h/db", "--to-storage", "/tmp/c"],
        ["migrate", "--to-database", "sqlite:////tmp/x.db", "--to-storage", "ftp://h/c"],
        ["migrate", "--to", "d", "--batch-size", "0"],
        ["migrate", "--to", "d", "--batch-size", "many"],
        ["migrate", "--to-database", "sqlite:///:memory:", "--to-storage", "/tmp/c"],
        ["migrate", "--to", "source/registry.db"],  # a file where the directory should be
    ],
)
def test_bad_targets_fail_with_a_stable_code_and_create_nothing(
    source: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    status, out, err = run(capsys, "--registry", str(source), *arguments)
    assert (status, out) == (2, "") and err.startswith("error: INVALID_INPUT: ")
    assert not (tmp_path / "d").exists() and not Path("/tmp/x.db").exists()


def test_sources_other_than_embedded_registries_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = ["migrate", "--to", str(tmp_path / "copy")]
    status, _, err = run(capsys, "--registry", "http://127.0.0.1:1", *target)
    assert status == 2 and "not a server" in err
    status, _, err = run(capsys, "--registry", str(tmp_path / "nowhere"), *target)
    assert status == 2 and err.startswith("error: INVALID_INPUT: no registry at")
    assert not (tmp_path / "nowhere").exists() and not (tmp_path / "copy").exists()
