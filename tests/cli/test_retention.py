"""``modelreg hold``, ``modelreg purge`` and ``modelreg retention`` on an embedded registry, in process.

Each command's table and --json output, its exit status and one-line error for refused or bad input, and
that a dry run changes nothing (the behaviour on every SDK and database is in tests/contracts).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from tests.cli_runs import run_in

import modelreg


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    """m/1..m/4: m/1 @champion, m/2 production, m/3 archived; m/4 the latest."""
    root = tmp_path / "reg"
    source = tmp_path / "src"
    source.mkdir()
    with modelreg.connect(root) as client:
        for number in range(1, 5):
            (source / "w.bin").write_bytes(os.urandom(100_000) + bytes([number]))
            client.push("m", source)
        client.set_alias("m", "champion", 1)
        client.set_stage("m/2", "production")
        client.set_stage("m/3", "archived")
    return root


def test_hold_set_list_rm(registry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_in(capsys, registry, "hold", "set", "m/3", "--reason", "case 17")[:2] == (
        0,
        "held m/3: case 17\n",
    )
    status, out, _ = run_in(capsys, registry, "hold", "list")
    assert status == 0 and out.splitlines()[0].split() == ["VERSION", "SINCE", "BY", "REASON"]
    assert out.splitlines()[1].split()[0] == "m/3" and out.splitlines()[1].endswith("case 17")
    listed = json.loads(run_in(capsys, registry, "hold", "list", "m", "--json")[1])
    assert [(h["name"], h["version"], h["reason"]) for h in listed] == [("m", 3, "case 17")]
    status, _, err = run_in(capsys, registry, "delete", "m/3", "--yes")
    assert (status, err) == (4, "error: VERSION_PROTECTED: m/3 is under legal hold: it cannot be deleted\n")
    assert run_in(capsys, registry, "hold", "rm", "m@" + _digest(registry, "m/3"))[:2] == (
        0,
        "released m/3\n",
    )
    status, _, err = run_in(capsys, registry, "hold", "rm", "m/3")
    assert (status, err) == (3, "error: HOLD_NOT_FOUND: m/3 is not under legal hold\n")
    assert run_in(capsys, registry, "hold", "list")[1:] == ("", "no legal holds\n")


def test_purge_refuses_protected_versions_and_marks_the_rest(
    registry: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, _, err = run_in(capsys, registry, "purge", "m/1", "--yes")
    assert (status, err) == (4, "error: VERSION_PROTECTED: m/1 cannot be purged: alias @champion\n")
    status, _, err = run_in(capsys, registry, "purge", "m/2", "--yes")
    assert (status, err) == (4, "error: VERSION_PROTECTED: m/2 cannot be purged: in production\n")
    status, _, err = run_in(capsys, registry, "purge", "m/3")  # stdin is not a terminal: no confirmation
    assert (status, err) == (
        2,
        f"error: INVALID_INPUT: refusing to purge the files of m/3 "
        f"({_digest(registry, 'm/3')}) without confirmation: pass --yes\n",
    )
    status, out, _ = run_in(capsys, registry, "--json", "purge", "m/3", "--yes")
    assert status == 0 and json.loads(out)["purged"] is True and json.loads(out)["purged_at"]
    assert "(purged)" in run_in(capsys, registry, "show", "m/3")[1].splitlines()[0]
    assert "3 (purged)" in run_in(capsys, registry, "versions", "m")[1]
    status, _, err = run_in(capsys, registry, "pull", "m/3", "-o", str(tmp_path / "out"))
    assert (status, err) == (
        4,
        "error: VERSION_PURGED: version 3 of model 'm' is purged: its files are gone\n",
    )
    status, _, err = run_in(capsys, registry, "purge", "m/9", "--yes")
    assert (status, err) == (3, "error: VERSION_NOT_FOUND: version 9 of model 'm' not found\n")


def test_retention_set_show_rm(registry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_in(capsys, registry, "retention", "set", "--keep-last", "2")
    assert (status, out) == (0, "global retention: keep the last 2 versions\n")
    out = run_in(capsys, registry, "retention", "set", "m", "--archived-days", "30")[1]
    assert out == "m retention: purge versions archived more than 30 days ago\n"
    status, out, _ = run_in(capsys, registry, "retention", "show")
    rows = [line.split()[:3] for line in out.splitlines()]
    assert status == 0 and rows == [["SCOPE", "KEEP", "LAST"], ["global", "2", "-"], ["m", "-", "30"]]
    applies = json.loads(run_in(capsys, registry, "retention", "show", "m", "--json")[1])
    assert [(p["name"], p["keep_last"], p["archived_days"]) for p in applies] == [("m", None, 30)]
    assert run_in(capsys, registry, "retention", "rm", "m")[:2] == (0, "removed the m retention policy\n")
    applies = json.loads(run_in(capsys, registry, "retention", "show", "m", "--json")[1])
    assert [p["name"] for p in applies] == [None]  # the global policy applies again
    status, _, err = run_in(capsys, registry, "retention", "rm", "m")
    assert (status, err[:40]) == (3, "error: RETENTION_POLICY_NOT_FOUND: no su")
    for args, code in (
        (("retention", "set", "--keep-last", "0"), "INVALID_INPUT"),
        (("retention", "set", "--keep-last", "many"), "INVALID_INPUT"),
        (("retention", "set"), "INVALID_INPUT"),
        (("retention", "set", "nope", "--keep-last", "1"), "MODEL_NOT_FOUND"),
        (("retention", "show", "nope"), "MODEL_NOT_FOUND"),
    ):
        status, out, err = run_in(capsys, registry, *args)
        assert (status in (2, 3), out, err.startswith(f"error: {code}: ")) == (True, "", True), args
    assert [p["name"] for p in json.loads(run_in(capsys, registry, "retention", "show", "--json")[1])] == [
        None
    ]
    status, out, _ = run_in(capsys, registry, "retention", "set", "--deleted-days", "30")
    assert (status, out) == (0, "global retention: purge versions deleted more than 30 days ago\n")
    header, row = run_in(capsys, registry, "retention", "show")[1].splitlines()
    assert "DELETED DAYS" in header and row.split()[:4] == ["global", "-", "-", "30"]
    status, _, err = run_in(capsys, registry, "retention", "set", "--deleted-days", "-1")
    assert (status, err.startswith("error: INVALID_INPUT: invalid deleted_days")) == (2, True)


def test_retention_apply_is_a_dry_run_until_asked(registry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_in(capsys, registry, "retention", "set", "--keep-last", "1", "--archived-days", "0")
    before = run_in(capsys, registry, "--json", "versions", "m")[1]
    status, out, _ = run_in(capsys, registry, "retention", "apply")
    lines = out.splitlines()
    assert status == 0 and lines[0].split() == ["VERSION", "SIZE", "RULE", "ACTION"]
    assert [line.split() for line in lines[1:4]] == [
        ["m/1", "100.0", "kB", "keep_last", "kept:", "alias:champion"],
        ["m/2", "100.0", "kB", "keep_last", "kept:", "production"],
        ["m/3", "100.0", "kB", "keep_last,", "archived_days", "purge"],
    ]
    assert lines[-1].startswith("dry run: would purge 1 version(s), 100.0 kB")
    assert run_in(capsys, registry, "--json", "versions", "m")[1] == before
    status, out, _ = run_in(capsys, registry, "--json", "retention", "apply", "m", "--apply")
    report = json.loads(out)
    assert status == 0 and report["applied"] is True
    assert [(c["version"], c["rules"]) for c in report["purge"]] == [(3, ["keep_last", "archived_days"])]
    assert [(c["version"], c["protected_by"]) for c in report["protected"]] == [
        (1, ["alias:champion"]),
        (2, ["production"]),
    ]
    status, out, _ = run_in(capsys, registry, "retention", "apply", "--apply")
    assert status == 0 and out.splitlines()[-1].startswith("purged 0 version(s), 0 B; run 'modelreg gc")


def _digest(registry: Path, ref: str) -> str:
    with modelreg.connect(registry) as client:
        return client.get_version(ref).digest
