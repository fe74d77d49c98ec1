"""The authorisation matrix, embedded: each use case × each role granted on ``risk-*`` × model ``risk-a``
(covered) and ``ops-b`` (not covered) → allowed, or ``PERMISSION_DENIED``; on SQLite and PostgreSQL.

The caller is the embedded SDK of user 'bob', who holds the role only through a binding on ``risk-*``
(``modelreg.connect(…, actor="bob")``: a defined user gets its bindings and no global role). Every case
first lets the admin restore what it needs (``prepare``), so each stands alone. ``MATRIX`` is shared with
the HTTP run (tests/api/test_scoped_tokens.py) so both surfaces refuse exactly the same things.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import modelreg
from modelreg import errors
from modelreg.access import ROLES, Permission
from modelreg.client.client import Client

P = Permission
ROLE_NAMES = ("viewer", "contributor", "approver", "admin")
MODELS = ("risk-a", "ops-b")  # the grant is on risk-*
Call = Callable[[Client, str, Path], object]


@dataclass(frozen=True)
class Case:
    permission: Permission
    call: Call
    prepare: Call | None = None  # run by the admin first


def _push_again(admin: Client, m: str, tmp: Path) -> object:
    return admin.push(m, _model_files(tmp / f"again-{m}", m + "-again"))


MATRIX: dict[str, Case] = {
    "get_model": Case(P.MODEL_READ, lambda c, m, t: c.get_model(m)),
    "get_version": Case(P.MODEL_READ, lambda c, m, t: c.get_version(f"{m}/1")),
    "list_versions": Case(P.MODEL_READ, lambda c, m, t: c.list_versions(m)),
    "alias_history": Case(P.MODEL_READ, lambda c, m, t: c.alias_history(m, "champion")),
    "stage_history": Case(P.MODEL_READ, lambda c, m, t: c.stage_history(f"{m}/1")),
    "resolve": Case(P.MODEL_READ, lambda c, m, t: c.resolve(f"{m}@champion")),
    "deployments": Case(P.MODEL_READ, lambda c, m, t: c.deployments(model=m)),
    "list_holds": Case(P.MODEL_READ, lambda c, m, t: c.list_holds(m)),
    "storage_stats": Case(P.MODEL_READ, lambda c, m, t: c.storage_stats(m)),
    "pull": Case(P.VERSION_PULL, lambda c, m, t: c.pull(f"{m}/1", dest=t / "pulled" / m, overwrite=True)),
    "push": Case(P.VERSION_CREATE, lambda c, m, t: c.push(m, t / "src" / m)),
    "push_with_alias": Case(P.ALIAS_WRITE, lambda c, m, t: c.push(m, t / "src" / m, aliases=["candidate"])),
    "set_alias": Case(P.ALIAS_WRITE, lambda c, m, t: c.set_alias(m, "best", 1)),
    "delete_alias": Case(
        P.ALIAS_WRITE, lambda c, m, t: c.delete_alias(m, "temp"), lambda a, m, t: a.set_alias(m, "temp", 1)
    ),
    "set_tag": Case(P.MODEL_WRITE, lambda c, m, t: c.set_tag(f"{m}/1", "k", "v")),
    "delete_tag": Case(
        P.MODEL_WRITE, lambda c, m, t: c.delete_tag(m, "t"), lambda a, m, t: a.set_tag(m, "t", "v")
    ),
    "update_description": Case(P.MODEL_WRITE, lambda c, m, t: c.update_description(m, "d")),
    "set_stage": Case(P.STAGE_WRITE, lambda c, m, t: c.set_stage(f"{m}/1", "staging")),
    "record_deployment": Case(
        P.DEPLOYMENT_WRITE, lambda c, m, t: c.record_deployment(f"{m}/1", environment="prod")
    ),
    "record_deployment_ended": Case(
        P.DEPLOYMENT_WRITE,
        lambda c, m, t: c.record_deployment_ended(m, environment="stg"),
        lambda a, m, t: a.record_deployment(f"{m}/1", environment="stg"),
    ),
    "set_hold": Case(P.VERSION_HOLD, lambda c, m, t: c.set_hold(f"{m}/1", reason="case 7")),
    "remove_hold": Case(
        P.VERSION_HOLD, lambda c, m, t: c.remove_hold(f"{m}/1"), lambda a, m, t: a.set_hold(f"{m}/1")
    ),
    "delete_version": Case(P.VERSION_DELETE, lambda c, m, t: c.delete_version(m), _push_again),
    "purge_version": Case(P.RETENTION_ADMIN, lambda c, m, t: c.purge_version(m), _push_again),
    "set_retention_policy": Case(P.RETENTION_ADMIN, lambda c, m, t: c.set_retention_policy(m, keep_last=100)),
    "delete_retention_policy": Case(
        P.RETENTION_ADMIN,
        lambda c, m, t: c.delete_retention_policy(m),
        lambda a, m, t: a.set_retention_policy(m, keep_last=100),
    ),
    "apply_retention": Case(P.RETENTION_ADMIN, lambda c, m, t: c.apply_retention(m)),
    "list_promotions": Case(P.MODEL_READ, lambda c, m, t: c.list_promotions(m)),
    # Last: with no policy configured the request applies at once (m/1 enters production).
    "request_promotion": Case(
        P.PROMOTION_REQUEST, lambda c, m, t: c.request_promotion(f"{m}/1", to="staging")
    ),
}

# Model-less use cases: a grant on a pattern never covers them, whatever its role (admin included).
GLOBAL: dict[str, Callable[[Client], object]] = {
    "create_token": lambda c: c.create_token("x", role="viewer"),
    "list_tokens": lambda c: c.list_tokens(),
    "revoke_token": lambda c: c.revoke_token("x"),
    "collect_garbage": lambda c: c.collect_garbage(),
    "audit_events": lambda c: c.audit_events(),
    "verify_audit": lambda c: c.verify_audit(),
    "create_user": lambda c: c.create_user("mallory"),
    "list_users": lambda c: c.list_users(),
    "delete_user": lambda c: c.delete_user("bob"),
    "create_group": lambda c: c.create_group("g2"),
    "list_groups": lambda c: c.list_groups(),
    "add_group_member": lambda c: c.add_group_member("risk-team", "user:bob"),
    "grant": lambda c: c.grant("admin", "user:bob"),
    "revoke": lambda c: c.revoke("viewer", "user:bob", models="risk-*"),
    "list_bindings": lambda c: c.list_bindings(),
    "set_global_retention_policy": lambda c: c.set_retention_policy(keep_last=5),
    "set_policy": lambda c: c.set_policy("rules = []"),
}


def _model_files(root: Path, text: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "weights.bin").write_bytes(text.encode() * 1000)
    (root / "config.json").write_text(json.dumps({"name": text}))
    return root


def seed(admin: Client, tmp: Path) -> None:
    """risk-a/1 and ops-b/1, each @champion, plus a source directory per model for pushes."""
    for m in MODELS:
        admin.push(m, _model_files(tmp / "seed" / m, m), aliases=["champion"])
        _model_files(tmp / "src" / m, m + "-src")


def expected(role: str, permission: Permission, model: str) -> bool:
    return permission in ROLES[role] and model.startswith("risk-")


def run_matrix(admin: Client, caller: Client, role: str, tmp: Path) -> list[str]:
    """Every case on both models; the mismatches, as readable lines (empty: all as expected)."""
    wrong: list[str] = []
    for name, case in MATRIX.items():
        for m in MODELS:
            if case.prepare is not None:
                case.prepare(admin, m, tmp)
            allowed = expected(role, case.permission, m)
            outcome = _outcome(case.call, caller, m, tmp)
            if outcome != ("ok" if allowed else "PERMISSION_DENIED"):
                wrong.append(f"{role} {name}({m}): expected {'ok' if allowed else 'denied'}, got {outcome}")
    for name, call in GLOBAL.items():
        outcome = _outcome(call, caller)
        if outcome != "PERMISSION_DENIED":
            wrong.append(f"{role} {name}: expected denied, got {outcome}")
    return wrong


def _outcome(call: Callable[..., object], *args: object) -> str:
    try:
        call(*args)
    except errors.ModelregError as error:
        return error.code
    return "ok"


@pytest.fixture
def admin(database: str, storage_url: str) -> Iterator[Client]:
    """The embedded SDK as 'root': not a defined user, so the local admin."""
    with modelreg.connect(database, storage=storage_url, actor="root") as client:
        yield client


def _bob(database: str, storage_url: str) -> Client:
    return modelreg.connect(database, storage=storage_url, actor="bob")


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_authorisation_matrix_embedded(
    admin: Client, database: str, storage_url: str, tmp_path: Path, role: str
) -> None:
    seed(admin, tmp_path)
    admin.create_user("bob")
    admin.create_group("risk-team")  # for GLOBAL's add_group_member
    admin.grant(role, "user:bob", models="risk-*")
    admin.grant("viewer", "user:bob", models="risk-*")  # for GLOBAL's revoke: it must exist to be refused
    with _bob(database, storage_url) as bob:
        wrong = run_matrix(admin, bob, role, tmp_path)
    assert wrong == []
    # Refusals changed nothing: ops-b holds only what the admin's preparations made (three versions, the
    # prepared tag and alias), and bob's every change (audited under his own name) is on risk-a.
    ops = admin.get_model("ops-b")
    assert (ops.latest_version, ops.tags, ops.description) == (3, {"t": "v"}, "")
    assert ops.aliases == {"champion": 1, "temp": 1}
    assert {event.model for event in admin.audit_events(actor="bob", limit=1000).items} <= {"risk-a"}
    assert [u.name for u in admin.list_users()] == ["bob"]


def test_refusal_does_not_reveal_whether_a_model_exists(
    admin: Client, database: str, storage_url: str
) -> None:
    admin.create_user("bob")
    admin.grant("viewer", "user:bob", models="risk-*")
    with _bob(database, storage_url) as bob:
        with pytest.raises(errors.ModelNotFound):
            bob.get_model("risk-missing")  # may read it: the answer is "not found"
        for name in ("ops-missing", "ops-b"):
            with pytest.raises(errors.PermissionDenied) as caught:
                bob.get_model(name)
            assert caught.value.details == {"permission": "model:read", "role": "none", "model": name}
            assert f"on model '{name}'" in caught.value.message


def test_a_scoped_viewer_lists_exactly_its_models(
    admin: Client, database: str, storage_url: str, tmp_path: Path
) -> None:
    names = [f"risk-{i:02d}" for i in range(7)] + ["ops-a", "risk", "Risk-x", "riskx"]
    for name in names:
        admin.push(name, _model_files(tmp_path / name, name), metrics={"auc": 0.5})
    admin.create_user("bob")
    admin.grant("viewer", "user:bob", models="risk-*")
    admin.grant("viewer", "user:bob", models="ris?")  # 'risk' (and 'riskx' does not match: one '?')
    admin.record_deployment("ops-a/1", environment="prod")
    admin.record_deployment("risk-03/1", environment="prod")
    for ref in ("ops-a/1", "risk-05/1", "risk/1"):
        admin.set_hold(ref, reason="litigation")
    admin.set_retention_policy(keep_last=50)
    for name in ("ops-a", "risk-01"):
        admin.set_retention_policy(name, keep_last=20)
    for ref in ("ops-a/1", "risk-06/1"):  # no policy: applied at once
        admin.request_promotion(ref, to="staging")
    visible = sorted([*(f"risk-{i:02d}" for i in range(7)), "risk"])
    with _bob(database, storage_url) as bob:
        pages, token = [], None
        while True:
            page = bob.list_models(limit=3, page_token=token)
            pages.append([m.name for m in page.items])
            token = page.next_page_token
            if token is None:
                break
        assert [n for p in pages for n in p] == visible and all(len(p) <= 3 for p in pages)
        found = bob.search_versions("metrics.auc > 0.1", limit=100).items
        assert sorted(v.name for v in found) == visible
        assert [m.name for m in bob.search_models("name LIKE '%a%'").items] == []
        assert [d.name for d in bob.deployments()] == ["risk-03"]
        assert sorted(row.name for row in bob.storage_stats().models) == visible
        # Holds, retention policies and promotion requests across models: only those of his models (and
        # the global retention policy, which applies to them); the policy document in full.
        assert [(h.name, h.version) for h in bob.list_holds()] == [("risk", 1), ("risk-05", 1)]
        assert [p.name for p in bob.list_retention_policies()] == [None, "risk-01"]
        assert [(p.name, p.version) for p in bob.list_promotions()] == [("risk-06", 1)]
        assert [p.status for p in bob.list_promotions(status="applied")] == ["applied"]
        assert bob.get_policy().source == "default"
    assert len(admin.list_models(limit=100).items) == len(names)
    assert len(admin.list_holds()) == 3 and len(admin.list_retention_policies()) == 3
    assert [p.name for p in admin.list_promotions()] == ["risk-06", "ops-a"]


def test_a_caller_without_any_read_permission_cannot_list(
    admin: Client, database: str, storage_url: str
) -> None:
    admin.create_user("bob")
    with _bob(database, storage_url) as bob:
        for call in (
            bob.list_models,
            bob.search_versions,
            bob.deployments,
            bob.storage_stats,
            bob.list_holds,
            bob.list_retention_policies,
            bob.list_promotions,
            bob.get_policy,
        ):
            with pytest.raises(errors.PermissionDenied):
                call()


def test_group_bindings_apply_to_members(
    admin: Client, database: str, storage_url: str, tmp_path: Path
) -> None:
    seed(admin, tmp_path)
    admin.create_user("bob")
    admin.create_group("risk-team")
    admin.grant("contributor", "group:risk-team", models="risk-*")
    with _bob(database, storage_url) as bob, pytest.raises(errors.PermissionDenied):
        bob.set_tag("risk-a", "k", "v")  # not a member yet
    admin.add_group_member("risk-team", "user:bob")
    with _bob(database, storage_url) as bob:
        bob.set_tag("risk-a", "k", "v")
        event = admin.audit_events(action="registry:tag:set").items[-1]
        assert (event.actor, event.target) == ("bob", "risk-a")
        with pytest.raises(errors.PermissionDenied):
            bob.set_tag("ops-b", "k", "v")
    admin.remove_group_member("risk-team", "user:bob")
    with _bob(database, storage_url) as bob, pytest.raises(errors.PermissionDenied):
        bob.set_tag("risk-a", "k", "v2")
    assert admin.get_model("risk-a").tags == {"k": "v"}
