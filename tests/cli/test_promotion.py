"""``modelreg promote | approve | reject | cancel | promotions | rollback`` and ``modelreg policy …`` on an
embedded registry, in process. Who acts is ``MODELREG_ACTOR`` (the embedded registry's local user)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.cli.test_audit import registry, run

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
    status, out, _ = run(capsys, "--json", "policy", "show", registry=registry)
    assert status == 0 and json.loads(out)["source"] == "default"
    assert run(capsys, "policy", "set", str(bad), registry=registry)[0] == 2
    status, out, _ = run(capsys, "policy", "set", str(good), registry=registry)
    assert (status, out) == (
        0,
        "promotion policy from database: 1 rule(s); protected aliases: @champion, @production\n",
    )
    status, out, _ = run(capsys, "policy", "show", registry=registry)
    assert status == 0 and out.endswith(POLICY)
    assert run(capsys, "policy", "rm", registry=registry)[0] == 0
    status, _, err = run(capsys, "policy", "rm", registry=registry)
    assert status == 3 and err.startswith("error: POLICY_NOT_FOUND")


def test_promote_approve_and_list(
    capsys: pytest.CaptureFixture[str], registry: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('[[rule]]\nmodels = "churn"\napprovals = 1\n')
    as_user(monkeypatch, "alice")
    assert run(capsys, "policy", "set", str(path), registry=registry)[0] == 0
    status, out, _ = run(
        capsys, "promote", "churn/2", "--to", "production", "-m", "v2 wins", registry=registry
    )
    assert (status, out) == (0, "promotion request 1: churn/2 → production: pending (0/1 approvals)\n")
    status, _, err = run(capsys, "stage", "churn/2", "production", registry=registry)
    assert status == 6 and "request_promotion" in err and err.startswith("error: PERMISSION_DENIED")
    status, _, err = run(capsys, "approve", "1", registry=registry)
    assert status == 6 and err.startswith("error: SEPARATION_OF_DUTIES")
    as_user(monkeypatch, "bob")
    status, out, _ = run(capsys, "--json", "approve", "1", "--comment", "ok", registry=registry)
    applied = json.loads(out)
    assert status == 0 and (applied["status"], applied["approvals"][0]["actor"]) == ("applied", "bob")
    assert run(capsys, "approve", "1", registry=registry)[2].startswith("error: PROMOTION_CLOSED")
    status, out, _ = run(capsys, "promotions", "churn", "--status", "applied", registry=registry)
    assert status == 0 and "churn/2" in out and "1/1 (bob)" in out and "v2 wins" in out
    status, out, err = run(capsys, "promotions", "fraud", registry=registry)
    assert (status, out, err) == (0, "no promotion requests\n", "")
    status, _, err = run(capsys, "promotions", "--status", "open", registry=registry)
    assert status == 2 and err.startswith("error: INVALID_INPUT: invalid status")


def test_reject_cancel_and_rollback(
    capsys: pytest.CaptureFixture[str], registry: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_user(monkeypatch, "alice")
    status, out, _ = run(capsys, "--json", "rollback", "churn@champion", "-m", "v2 broke", registry=registry)
    undone = json.loads(out)
    assert status == 0 and (undone["status"], undone["kind"], undone["version"]) == ("applied", "rollback", 1)
    assert json.loads(run(capsys, "--json", "show", "churn@champion", registry=registry)[1])["version"] == 1
    status, out, _ = run(capsys, "rollback", "churn@champion", "--emergency", registry=registry)
    assert (status, out) == (0, "promotion request 2: churn/2 → @champion: applied\n")
    path = tmp_path / "policy.toml"
    path.write_text("[[rule]]\napprovals = 1\n")
    assert run(capsys, "policy", "set", str(path), registry=registry)[0] == 0
    for _ in range(2):
        assert run(capsys, "promote", "churn/1", "--to", "production", registry=registry)[0] == 0
    status, out, _ = run(capsys, "cancel", "4", "-m", "changed my mind", registry=registry)
    assert (status, out) == (0, "promotion request 4: churn/1 → production: cancelled\n")
    as_user(monkeypatch, "bob")
    status, out, _ = run(capsys, "reject", "3", "-m", "no", registry=registry)
    assert (status, out) == (0, "promotion request 3: churn/1 → production: rejected\n")
    status, _, err = run(capsys, "cancel", "3", registry=registry)
    assert status == 4 and err.startswith("error: PROMOTION_CLOSED: promotion request 3 is already rejected")
    status, _, err = run(capsys, "cancel", "abc", registry=registry)
    assert status == 2 and err.startswith("error: INVALID_INPUT: Invalid value for 'ID'")
    status, _, err = run(capsys, "rollback", "churn", registry=registry)
    assert status == 2 and err.startswith("error: INVALID_REFERENCE")
