"""``modelreg gc`` on an embedded registry, in process: the dry run's table, --apply, --json, lost chunks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from tests.cli_runs import run_in

import modelreg
from modelreg import errors


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
    status, out, err = run_in(capsys, registry, "gc")
    assert (status, err) == (0, "")
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:5]}
    assert rows["scanned"][0] == "2" and rows["referenced"][0] == "1" and rows["protected"][0] == "0"
    assert rows["reclaimable"][:3] == ["1", "200.0", "kB"]
    assert out.splitlines()[-1].startswith("dry run: nothing deleted")
    assert json.loads(run_in(capsys, registry, "gc", "--json")[1])["reclaimable_chunks"] == 1


def test_apply_deletes_and_reports_it(registry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_in(capsys, registry, "--json", "gc", "--apply")
    report = json.loads(out)
    assert status == 0
    assert (report["applied"], report["deleted_chunks"], report["deleted_bytes"]) == (True, 1, 200_000)
    status, out, _ = run_in(capsys, registry, "gc", "--apply")
    assert status == 0 and out.splitlines()[-1].startswith("deleted 0 chunk(s), 0 B (mark ")


def test_lost_chunks_are_reported_on_stderr(registry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with modelreg.connect(registry) as client:
        [entry] = client.get_version("m/1").files
    hex_ = entry.digest.removeprefix("sha256:")  # a one-chunk file: its chunk has the file's digest
    (registry / "chunks" / "sha256" / hex_[:2] / hex_[2:4] / hex_).unlink()  # lost behind the registry's back
    status, out, err = run_in(capsys, registry, "--json", "gc")
    assert status == 0 and json.loads(out)["missing_chunks"] == 1
    assert err.startswith("warning: 1 chunk(s) that versions reference are missing from the store")


def test_storage_stats_prints_a_row_per_model_and_the_total(
    registry: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with modelreg.connect(registry) as client:
        client.push("other", tmp_path / "kept")  # the same 200,000 bytes as m/1
    status, out, err = run_in(capsys, registry, "storage", "stats")
    assert (status, err) == (0, "")
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:] if line.strip()}
    assert rows["m"] == ["1", "200.0", "kB", "200.0", "kB", "1", "1.00x"]
    assert rows["other"] == ["1", "200.0", "kB", "200.0", "kB", "1", "1.00x"]
    assert rows["total"] == ["2", "400.0", "kB", "200.0", "kB", "1", "2.00x"]

    status, out, _ = run_in(capsys, registry, "storage", "stats", "m", "--json")
    report = json.loads(out)
    assert status == 0 and [row["name"] for row in report["models"]] == ["m"]
    assert (report["logical_bytes"], report["physical_bytes"], report["dedup_ratio"]) == (
        200_000,
        200_000,
        1.0,
    )


def test_storage_stats_of_an_unknown_or_invalid_model_fails_with_its_code(
    registry: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run_in(capsys, registry, "storage", "stats", "nope")
    assert (status, out) == (3, "") and err.startswith("error: MODEL_NOT_FOUND")
    status, _, err = run_in(capsys, registry, "storage", "stats", "bad name")
    assert status == 2 and err.startswith("error: INVALID_NAME")


def test_push_reports_new_and_deduplicated_bytes(
    registry: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run_in(capsys, registry, "push", "copy", str(tmp_path / "kept"))
    assert status == 0 and out.strip().endswith("(1 file, 0.20 MB, 0.0 MB new, 0.20 MB deduplicated)")
    status, out, _ = run_in(capsys, registry, "push", "copy", str(tmp_path / "kept"), "--json")
    pushed = json.loads(out)
    assert (pushed["version"], pushed["bytes_new"], pushed["bytes_deduplicated"]) == (2, 0, 200_000)
