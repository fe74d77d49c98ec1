"""``modelreg deployment record | end`` and ``modelreg deployments`` on an embedded registry, in process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.cli.test_audit import registry, run

__all__ = ["registry"]  # the fixture, shared with the audit commands' tests


def test_deployments_record_end_and_list(capsys: pytest.CaptureFixture[str], registry: Path) -> None:
    status, out, _ = run(
        capsys, "--json", "deployment", "record", "churn@champion", "-e", "prod-eu", registry=registry
    )
    recorded = json.loads(out)[0]
    assert status == 0 and (recorded["name"], recorded["version"], recorded["environment"]) == (
        "churn",
        2,
        "prod-eu",
    )
    status, out, _ = run(capsys, "deployments", registry=registry)
    assert status == 0 and "prod-eu" in out and "churn/2" in out and "(serving)" in out
    status, out, _ = run(capsys, "--json", "deployments", "--at", recorded["started_at"], registry=registry)
    assert [item["version"] for item in json.loads(out)] == [2]
    assert run(capsys, "deployment", "end", "churn", "-e", "prod-eu", registry=registry)[0] == 0
    status, out, err = run(capsys, "deployments", registry=registry)
    assert (status, out, err.strip()) == (0, "", "no deployments")
    status, _, err = run(capsys, "deployment", "end", "churn", "-e", "prod-eu", registry=registry)
    assert status == 3 and err.startswith("error: DEPLOYMENT_NOT_FOUND:")
    status, _, err = run(capsys, "deployment", "record", "churn/1", "-e", "bad env", registry=registry)
    assert status == 2 and err.startswith("error: INVALID_INPUT: invalid environment")
