"""``modelreg audit list | export | verify`` and ``modelreg show --at`` on an embedded registry, in process.

The offline check needs nothing but the export: tampering with the file (an edited, deleted or reordered
line) is reported with the first bad sequence number and exit status 5.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.cli_runs import run, run_in

import modelreg


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    """churn/1, churn/2 and fraud/1; @champion moved 1 → 2; 6+ events."""
    root = tmp_path / "reg"
    source = tmp_path / "src"
    source.mkdir()
    (source / "w.bin").write_bytes(b"weights" * 1000)
    with modelreg.connect(root, actor="carol") as client:
        client.push("churn", source)
        client.push("churn", source)
        client.push("fraud", source)
        client.set_alias("churn", "champion", 1)
        client.set_alias("churn", "champion", 2)
    return root


@pytest.fixture
def export(capsys: pytest.CaptureFixture[str], registry: Path, tmp_path: Path) -> Path:
    path = tmp_path / "audit.jsonl"
    status, out, _ = run_in(capsys, registry, "audit", "export", "-o", str(path))
    assert (status, out) == (0, "")
    return path


def test_list_filters_and_json(capsys: pytest.CaptureFixture[str], registry: Path) -> None:
    status, out, _ = run_in(capsys, registry, "--json", "audit", "list", "--model", "churn")
    events = json.loads(out)
    assert status == 0 and events and {event["model"] for event in events} == {"churn"}
    status, out, _ = run_in(capsys, registry, "--json", "audit", "list", "--action", "registry:alias:*")
    assert [event["data"]["after"] for event in json.loads(out)] == [1, 2]
    status, out, _ = run_in(capsys, registry, "audit", "list", "--actor", "carol", "--limit", "2")
    assert status == 0 and "registry:model:create" in out and "registry:alias:set" not in out
    status, out, err = run_in(capsys, registry, "audit", "list", "--actor", "nobody")
    assert (status, out, err.strip()) == (0, "", "no audit events match")


def test_bad_filters_exit_2(capsys: pytest.CaptureFixture[str], registry: Path) -> None:
    status, _, err = run_in(capsys, registry, "audit", "list", "--since", "last week")
    assert status == 2 and err.startswith("error: INVALID_INPUT:") and "ISO 8601" in err


def test_export_verifies_offline(capsys: pytest.CaptureFixture[str], export: Path, tmp_path: Path) -> None:
    lines = export.read_text().splitlines()
    last = json.loads(lines[-1])
    status, out, _ = run_in(capsys, tmp_path / "nowhere", "audit", "verify", "--file", str(export))
    assert status == 0
    assert out.strip() == f"ok: {len(lines)} events verified; head {last['seq']}:{last['hash']}"
    assert not (tmp_path / "nowhere").exists()  # offline: no registry opened or created
    status, out, _ = run(
        capsys,
        "--json",
        "audit",
        "verify",
        "--file",
        str(export),
        "--anchor",
        f"2:{json.loads(lines[1])['hash']}",
    )
    assert status == 0 and json.loads(out)["ok"] is True


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("tampering", ["edit", "delete", "swap", "garbage"])
def test_a_tampered_export_names_the_first_bad_event(
    capsys: pytest.CaptureFixture[str], export: Path, tmp_path: Path, tampering: str
) -> None:
    lines = export.read_text().splitlines()
    if tampering == "edit":
        event = json.loads(lines[2])
        event["actor"] = "mallory"
        lines[2] = json.dumps(event)
    elif tampering == "delete":
        del lines[2]
    elif tampering == "swap":
        lines[2], lines[3] = lines[3], lines[2]
    else:
        lines[2] = "{not json"
    status, out, err = run(capsys, "audit", "verify", "--file", str(_write(tmp_path / "t.jsonl", lines)))
    assert (status, out) == (5, "")
    assert err.startswith("error: AUDIT_CHAIN_BROKEN: the audit chain is broken at event 3:"), err


def test_filtered_export_needs_allow_gaps(
    capsys: pytest.CaptureFixture[str], registry: Path, tmp_path: Path
) -> None:
    path = tmp_path / "aliases.jsonl"
    assert (
        run_in(capsys, registry, "audit", "export", "-o", str(path), "--action", "registry:alias:*")[0] == 0
    )
    status, _, err = run(capsys, "audit", "verify", "--file", str(path))
    assert status == 5 and "is missing" in err
    status, out, _ = run(capsys, "audit", "verify", "--file", str(path), "--allow-gaps")
    assert status == 0 and "2 events verified, 1 gap(s) allowed" in out


def test_registry_chain_verifies(capsys: pytest.CaptureFixture[str], registry: Path) -> None:
    status, out, _ = run_in(capsys, registry, "--json", "audit", "verify")
    result = json.loads(out)
    assert status == 0 and result["ok"] is True and result["events"] == result["head_seq"] >= 6
    status, _, err = run_in(capsys, registry, "audit", "verify", "--anchor", "nonsense")
    assert status == 2 and "invalid audit anchor" in err
    status, _, err = run(capsys, "audit", "verify", "--file", "/nonexistent/export.jsonl")
    assert status == 2 and "cannot read audit export" in err


def test_show_at_an_instant(capsys: pytest.CaptureFixture[str], registry: Path) -> None:
    with modelreg.connect(registry) as client:
        first_move = client.alias_history("churn", "champion")[0].since
    status, out, _ = run_in(
        capsys, registry, "--json", "show", "churn@champion", "--at", first_move.isoformat()
    )
    assert status == 0 and json.loads(out)["version"] == 1
    status, out, _ = run_in(capsys, registry, "--json", "show", "churn@champion")
    assert json.loads(out)["version"] == 2
    status, _, err = run_in(capsys, registry, "show", "churn@champion", "--at", "2020-01-01T00:00:00Z")
    assert status == 3 and err.startswith("error: ALIAS_NOT_FOUND:")
