"""``modelreg token create | list | revoke`` on an embedded registry (no server), in process."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.cli_runs import run_in

from modelreg.cli.tokens import parse_expiry
from modelreg.errors import InvalidInput


def test_create_list_revoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    registry = tmp_path / "reg"
    status, out, err = run_in(
        capsys, registry, "token", "create", "--name", "ci", "--role", "viewer", "--expires", "30d"
    )
    assert status == 0 and out.strip().startswith("mrt_") and out.count("\n") == 1
    assert "created token ci (viewer, expires" in err and "store the secret now" in err

    status, out, _ = run_in(capsys, registry, "--json", "token", "list")
    [token] = json.loads(out)
    assert (token["name"], token["role"], token["secret"], token["revoked_at"]) == (
        "ci",
        "viewer",
        None,
        None,
    )
    expires = datetime.fromisoformat(token["expires_at"]) - datetime.now(UTC)
    assert timedelta(days=29, hours=23) < expires <= timedelta(days=30)

    assert run_in(capsys, registry, "token", "revoke", "ci")[1] == "revoked 1 token named ci\n"
    status, _, err = run_in(capsys, registry, "token", "revoke", "ci")
    assert status == 3 and err == "error: TOKEN_NOT_FOUND: no active token named 'ci'\n"
    _, out, _ = run_in(capsys, registry, "token", "list")
    assert "revoked" in out.splitlines()[1]


def test_bad_role_and_expiry_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run_in(capsys, tmp_path / "reg", "token", "create", "--name", "x", "--role", "boss")
    assert status == 2 and err.startswith("error: INVALID_INPUT: ") and err.count("\n") == 1
    status, _, err = run_in(
        capsys, tmp_path / "reg", "token", "create", "--name", "x", "--role", "admin", "--expires", "soon"
    )
    assert status == 2 and err.startswith("error: INVALID_INPUT: invalid expiry 'soon'")


def test_parse_expiry() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    assert parse_expiry("90m", now=now) == now + timedelta(minutes=90)
    assert parse_expiry("12h", now=now) == now + timedelta(hours=12)
    assert parse_expiry("2w", now=now) == now + timedelta(weeks=2)
    assert parse_expiry("2031-05-01T00:00:00+02:00", now=now).utcoffset() == timedelta(hours=2)
    for text in ("0d", "5y", "2031-05-01T00:00:00", "-1d", ""):
        with pytest.raises(InvalidInput):
            parse_expiry(text, now=now)
