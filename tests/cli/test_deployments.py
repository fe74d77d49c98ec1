"""``modelreg deployment record | end`` and ``modelreg deployments`` on an embedded registry, in process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.cli.test_audit import registry
from tests.cli_runs import run_in

__all__ = ["registry"]  # the fixture, shared with the audit commands' tests


def test_deployments_record_end_and_list(capsys: pytest.CaptureFixture[str], registry: Path) -> None:
    status, out, _ = run_in(
        capsys, registry, "--json", "deployment", "record", "churn@champion", "-e", "prod-eu"
    )
    recorded = json.loads(out)[0]
    assert status == 0 and (recorded["name"], recorded["version"], recorded["environment"]) == (
        "churn",
        2,
        "prod-eu",
    )
    status, out, _ = run_in(capsys, registry, "deployments")
    assert status == 0 and "prod-eu" in out and "churn/2" in out and "(serving)" in out
    status, out, _ = run_in(capsys, registry, "--json", "deployments", "--at", recorded["started_at"])
    assert [item["version"] for item in json.loads(out)] == [2]
    assert run_in(capsys, registry, "deployment", "end", "churn", "-e", "prod-eu")[0] == 0
    status, out, err = run_in(capsys, registry, "deployments")
    assert (status, out, err.strip()) == (0, "", "no deployments")
    status, _, err = run_in(capsys, registry, "deployment", "end", "churn", "-e", "prod-eu")
    assert status == 3 and err.startswith("error: DEPLOYMENT_NOT_FOUND:")
    status, _, err = run_in(capsys, registry, "deployment", "record", "churn/1", "-e", "bad env")
    assert status == 2 and err.startswith("error: INVALID_INPUT: invalid environment")
