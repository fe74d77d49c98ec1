"""``modelreg promote | approve | reject | cancel | promotions | rollback`` and ``modelreg policy …`` on an
embedded registry, in process. Who acts is ``MODELREG_ACTOR`` (the embedded registry's local user)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.cli.test_audit import registry
from tests.cli_runs import run, run_in

__all__ = ["registry"]  # the fixture: churn/1, churn/2, fraud/1, @champion 1 → 2

POLICY = '[[rule]]\nmodels = "churn"\napprovals = 1\nrequire = ["metric:auc"]\n'


def as_user(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv("MODELREG_ACTOR", name)


def test_policy_check_set_show_rm(capsys: pytest.CaptureFixture[str], registry: Path, tmp_path: Path) -> None:
    good, bad = tmp_path / "good.toml", tmp_path / "bad.toml"
    good.write_text(POLICY)
    bad.write_text("[[rule]]\napprovals = 1\ngates = ['auc > 1']\n")
    assert run(capsys, "policy", "check", str(good))[:2] == (
        0,
        f"{good}: valid: 1 rule(s); protected aliases: @champion, @production\n",
    )
    status, _, err = run(capsys, "policy", "check", str(bad))
    assert status == 2 and err.startswith(
        "error: INVALID_POLICY: invalid policy: rule[1].gates[0] (rule at line 1)"
    )
    status, _, err = run(capsys, "policy", "check", str(tmp_path / "none.toml"))
    assert status == 2 and "not found" in err
    status, out, _ = run_in(capsys, registry, "--json", "policy", "show")
    assert status == 0 and json.loads(out)["source"] == "default"
    assert run_in(capsys, registry, "policy", "set", str(bad))[0] == 2
    status, out, _ = run_in(capsys, registry, "policy", "set", str(good))
    assert (status, out) == (
        0,
        "promotion policy from database: 1 rule(s); protected aliases: @champion, @production\n",
    )
    status, out, _ = run_in(capsys, registry, "policy", "show")
    assert status == 0 and out.endswith(POLICY)
    assert run_in(capsys, registry, "policy", "rm")[0] == 0
    status, _, err = run_in(capsys, registry, "policy", "rm")
    assert status == 3 and err.startswith("error: POLICY_NOT_FOUND")


def test_promote_approve_and_list(
    capsys: pytest.CaptureFixture[str], registry: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('[[rule]]\nmodels = "churn"\napprovals = 1\n')
    as_user(monkeypatch, "alice")
    assert run_in(capsys, registry, "policy", "set", str(path))[0] == 0
    status, out, _ = run_in(capsys, registry, "promote", "churn/2", "--to", "production", "-m", "v2 wins")
    assert (status, out) == (0, "promotion request 1: churn/2 → production: pending (0/1 approvals)\n")
    status, _, err = run_in(capsys, registry, "stage", "churn/2", "production")
    assert status == 6 and "request_promotion" in err and err.startswith("error: PERMISSION_DENIED")
    status, _, err = run_in(capsys, registry, "approve", "1")
    assert status == 6 and err.startswith("error: SEPARATION_OF_DUTIES")
    as_user(monkeypatch, "bob")
    status, out, _ = run_in(capsys, registry, "--json", "approve", "1", "--comment", "ok")
    applied = json.loads(out)
    assert status == 0 and (applied["status"], applied["approvals"][0]["actor"]) == ("applied", "bob")
    assert run_in(capsys, registry, "approve", "1")[2].startswith("error: PROMOTION_CLOSED")
    status, out, _ = run_in(capsys, registry, "promotions", "churn", "--status", "applied")
    assert status == 0 and "churn/2" in out and "1/1 (bob)" in out and "v2 wins" in out
    status, out, err = run_in(capsys, registry, "promotions", "fraud")
    assert (status, out, err) == (0, "no promotion requests\n", "")
    status, _, err = run_in(capsys, registry, "promotions", "--status", "open")
    assert status == 2 and err.startswith("error: INVALID_INPUT: invalid status")


def test_reject_cancel_and_rollback(
    capsys: pytest.CaptureFixture[str], registry: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_user(monkeypatch, "alice")
    status, out, _ = run_in(capsys, registry, "--json", "rollback", "churn@champion", "-m", "v2 broke")
    undone = json.loads(out)
    assert status == 0 and (undone["status"], undone["kind"], undone["version"]) == ("applied", "rollback", 1)
    assert json.loads(run_in(capsys, registry, "--json", "show", "churn@champion")[1])["version"] == 1
    status, out, _ = run_in(capsys, registry, "rollback", "churn@champion", "--emergency")
    assert (status, out) == (0, "promotion request 2: churn/2 → @champion: applied\n")
    path = tmp_path / "policy.toml"
    path.write_text("[[rule]]\napprovals = 1\n")
    assert run_in(capsys, registry, "policy", "set", str(path))[0] == 0
    for _ in range(2):
        assert run_in(capsys, registry, "promote", "churn/1", "--to", "production")[0] == 0
    status, out, _ = run_in(capsys, registry, "cancel", "4", "-m", "changed my mind")
    assert (status, out) == (0, "promotion request 4: churn/1 → production: cancelled\n")
    as_user(monkeypatch, "bob")
    status, out, _ = run_in(capsys, registry, "reject", "3", "-m", "no")
    assert (status, out) == (0, "promotion request 3: churn/1 → production: rejected\n")
    status, _, err = run_in(capsys, registry, "cancel", "3")
    assert status == 4 and err.startswith("error: PROMOTION_CLOSED: promotion request 3 is already rejected")
    status, _, err = run_in(capsys, registry, "cancel", "abc")
    assert status == 2 and err.startswith("error: INVALID_INPUT: Invalid value for 'ID'")
    status, _, err = run_in(capsys, registry, "rollback", "churn")
    assert status == 2 and err.startswith("error: INVALID_REFERENCE")
