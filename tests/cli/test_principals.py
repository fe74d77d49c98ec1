"""``modelreg user | group | role`` and ``token create --user`` on an embedded registry, in process; and the
authorisation matrix's representative commands through the CLI (a refusal exits 6 with one line).

The local user is chosen with ``MODELREG_ACTOR``: 'root' is not a defined user (so the local admin); 'bob'
is, and holds only his bindings.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from tests.cli_runs import run_in

import modelreg


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """risk-a/1 and ops-b/1; the CLI acts as 'root' unless a test says otherwise."""
    monkeypatch.setenv("MODELREG_ACTOR", "root")
    root = tmp_path / "reg"
    source = tmp_path / "src"
    source.mkdir()
    with modelreg.connect(root, actor="root") as client:
        for name in ("risk-a", "ops-b"):
            (source / "w.bin").write_bytes(os.urandom(50_000))
            client.push(name, source)
    return root


def test_users_groups_and_roles(registry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_in(capsys, registry, "user", "add", "bob")[:2] == (0, "created user bob\n")
    assert run_in(capsys, registry, "group", "add", "risk-team")[:2] == (0, "created group risk-team\n")
    assert run_in(capsys, registry, "group", "member", "add", "risk-team", "user:bob")[:2] == (
        0,
        "user:bob is a member of group risk-team\n",
    )
    assert run_in(capsys, registry, "role", "grant", "contributor", "group:risk-team", "--models", "risk-*")[
        :2
    ] == (
        0,
        "granted contributor on risk-* to group:risk-team\n",
    )
    listed = json.loads(run_in(capsys, registry, "role", "list", "--json")[1])
    assert [(b["principal"], b["role"], b["models"], b["created_by"]) for b in listed] == [
        ("group:risk-team", "contributor", "risk-*", "root")
    ]
    status, out, _ = run_in(capsys, registry, "group", "list")
    assert status == 0 and out.splitlines()[0].split() == ["GROUP", "MEMBERS", "CREATED", "BY"]
    assert out.splitlines()[1].split()[:2] == ["risk-team", "user:bob"]
    users = json.loads(run_in(capsys, registry, "user", "list", "--json")[1])
    assert [(u["name"], u["groups"]) for u in users] == [("bob", ["risk-team"])]
    token = json.loads(
        run_in(
            capsys, registry, "token", "create", "--name", "ci", "--role", "none", "--user", "bob", "--json"
        )[1]
    )
    assert (token["name"], token["role"], token["user"]) == ("ci", "none", "bob")
    assert (
        run_in(capsys, registry, "role", "revoke", "contributor", "group:risk-team", "--models", "risk-*")[0]
        == 0
    )
    assert run_in(capsys, registry, "group", "member", "rm", "risk-team", "user:bob")[0] == 0
    assert run_in(capsys, registry, "group", "rm", "risk-team")[:2] == (0, "deleted group risk-team\n")
    assert run_in(capsys, registry, "user", "rm", "bob")[:2] == (0, "deleted user bob\n")
    assert json.loads(run_in(capsys, registry, "user", "list", "--json")[1]) == []
    assert [
        t["revoked_at"] is not None
        for t in json.loads(run_in(capsys, registry, "token", "list", "--json")[1])
    ] == [True]
    actions = [e["action"] for e in json.loads(run_in(capsys, registry, "audit", "list", "--json")[1])]
    assert [a for a in actions if a.split(":")[1] in ("user", "group", "role")] == [
        "registry:user:create",
        "registry:group:create",
        "registry:group:member-add",
        "registry:role:grant",
        "registry:role:revoke",
        "registry:group:member-remove",
        "registry:group:delete",
        "registry:user:delete",
    ]


@pytest.mark.parametrize(
    ("args", "status", "error"),
    [
        (("user", "add", "bad name"), 2, "INVALID_INPUT: invalid user name 'bad name'"),
        (("role", "grant", "viewer", "user:nobody"), 3, "PRINCIPAL_NOT_FOUND: user 'nobody' not found"),
        (("role", "grant", "viewer", "nobody"), 2, "INVALID_INPUT: invalid principal 'nobody'"),
        (
            ("role", "grant", "viewer", "group:g", "--models", "risk["),
            2,
            "INVALID_INPUT: invalid model pattern",
        ),
        (
            ("role", "revoke", "viewer", "group:g"),
            3,
            "ROLE_BINDING_NOT_FOUND: group:g holds no viewer binding",
        ),
        (("group", "add", "g"), 4, "PRINCIPAL_ALREADY_EXISTS: group 'g' already exists"),
        (("group", "member", "add", "g", "group:g"), 2, "INVALID_INPUT: invalid principal 'group:g'"),
        (("group", "member", "rm", "g", "user:bob"), 3, "PRINCIPAL_NOT_FOUND: user:bob is not a member"),
        (
            ("token", "create", "--name", "t", "--role", "viewer", "--user", "nobody"),
            3,
            "PRINCIPAL_NOT_FOUND",
        ),
    ],
)
def test_bad_input_gets_a_stable_code(
    registry: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], status: int, error: str
) -> None:
    run_in(capsys, registry, "group", "add", "g")
    before = run_in(capsys, registry, "audit", "list", "--json")[1]
    code, _, err = run_in(capsys, registry, *args)
    assert code == status and err.startswith("error: " + error) and err.count("\n") == 1
    assert run_in(capsys, registry, "audit", "list", "--json")[1] == before  # nothing changed


def test_scoped_user_through_the_cli(
    registry: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run_in(capsys, registry, "user", "add", "bob")
    run_in(capsys, registry, "role", "grant", "contributor", "user:bob", "--models", "risk-*")
    monkeypatch.setenv("MODELREG_ACTOR", "bob")
    assert [m["name"] for m in json.loads(run_in(capsys, registry, "models", "--json")[1])] == ["risk-a"]
    assert run_in(capsys, registry, "tag", "set", "risk-a", "team", "risk")[0] == 0
    for args in (
        ("tag", "set", "ops-b", "team", "ops"),
        ("show", "ops-b"),
        ("alias", "set", "ops-b", "best", "1"),
        ("user", "list"),
        ("token", "create", "--name", "x", "--role", "admin"),
        ("gc",),
    ):
        code, _, err = run_in(capsys, registry, *args)
        assert (code, err.split(":")[0:2]) == (6, ["error", " PERMISSION_DENIED"]), (args, err)
    code, _, err = run_in(capsys, registry, "show", "ops-b")
    denied = "bob (none; contributor on risk-*) lacks the model:read permission on model 'ops-b'"
    assert err == f"error: PERMISSION_DENIED: {denied}\n"
