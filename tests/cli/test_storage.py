"""``modelreg gc`` on an embedded registry, in process: the dry run's table, --apply, --json, lost chunks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import modelreg
from modelreg import errors
from modelreg.cli.app import main


def run(capsys: pytest.CaptureFixture[str], registry: Path, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(["--registry", str(registry), *args])
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A registry holding one version (one chunk) and one orphan chunk (200,000 bytes) from a failed push."""
    monkeypatch.setenv("MODELREG_GC_GRACE_SECONDS", "0")
    root = tmp_path / "reg"
    for name in ("kept", "failed"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "w.bin").write_bytes(os.urandom(200_000))  # under FastCDC's minimum: one chunk
    with modelreg.connect(root) as client:
        client.push("m", tmp_path / "kept")
        with pytest.raises(errors.InvalidMetadata):
            client.push("m", tmp_path / "failed", metrics={"auc": float("nan")})
    return root


def test_a_dry_run_prints_the_report_and_deletes_nothing(
    registry: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, registry, "gc")
    assert (status, err) == (0, "")
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:5]}
    assert rows["scanned"][0] == "2" and rows["referenced"][0] == "1" and rows["protected"][0] == "0"
    assert rows["reclaimable"][:3] == ["1", "200.0", "kB"]
    assert out.splitlines()[-1].startswith("dry run: nothing deleted")
    assert json.loads(run(capsys, registry, "gc", "--json")[1])["reclaimable_chunks"] == 1


def test_apply_deletes_and_reports_it(registry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, registry, "--json", "gc", "--apply")
    report = json.loads(out)
    assert status == 0
    assert (report["applied"], report["deleted_chunks"], report["deleted_bytes"]) == (True, 1, 200_000)
    status, out, _ = run(capsys, registry, "gc", "--apply")
    assert status == 0 and out.splitlines()[-1].startswith("deleted 0 chunk(s), 0 B (mark ")


def test_lost_chunks_are_reported_on_stderr(registry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with modelreg.connect(registry) as client:
        [entry] = client.get_version("m/1").files
    hex_ = entry.digest.removeprefix("sha256:")  # a one-chunk file: its chunk has the file's digest
    (registry / "chunks" / "sha256" / hex_[:2] / hex_[2:4] / hex_).unlink()  # lost behind the registry's back
    status, out, err = run(capsys, registry, "--json", "gc")
    assert status == 0 and json.loads(out)["missing_chunks"] == 1
    assert err.startswith("warning: 1 chunk(s) that versions reference are missing from the store")
