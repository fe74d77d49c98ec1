"""Governed promotion on both SDKs × SQLite + PostgreSQL: N-of-M approvals, separation of duties, policy
checks at request and apply time, expiry, final states, rollback (normal and emergency), and the audit trail.

Several people act on one registry here, so the fixture builds one ``Registry`` (with a clock the test
moves) and hands out an SDK client per person and role: embedded (``Registry.as_actor``) or over HTTP
through the real API app, whose caller is taken from a test header.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from modelreg import errors
from modelreg.access import Actor
from modelreg.client.client import Client
from modelreg.registry.service import Registry
from modelreg.types import Promotion
from tests.clock import Clock
from tests.conftest import SDKS, _InProcess

TWO_APPROVALS = """
[[rule]]
models = "churn*"
target = "production"
approvals = 2
"""


@dataclass
class Team:
    clock: Clock
    make: Callable[[str, str], Client]

    def __call__(self, name: str, role: str = "admin") -> Client:
        return self.make(name, role)


@pytest.fixture(params=SDKS)
def team(request: pytest.FixtureRequest, database: str, storage_url: str) -> Iterator[Team]:
    from modelreg.api import create_app
    from modelreg.api.auth import caller_registry
    from modelreg.client.http import HttpBackend
    from modelreg.connection import open_stores

    metadata, chunks = open_stores(database, storage=storage_url)
    clock = Clock()
    base = Registry(metadata, chunks, actor=Actor("server", role="none"), clock=clock)
    with contextlib.ExitStack() as stack:
        if request.param == "embedded":
            stack.callback(metadata.close)

            def make(name: str, role: str) -> Client:
                return Client(base.as_actor(Actor(name, role=role)))
        else:
            app = create_app(base, on_close=metadata.close)
            app.dependency_overrides[caller_registry] = _from_header
            served = stack.enter_context(TestClient(app, base_url="http://testserver"))

            def make(name: str, role: str) -> Client:
                headers = {"X-Test-Actor": f"{name}:{role}"}
                http = stack.enter_context(httpx.Client(transport=_InProcess(served), headers=headers))
                return Client(HttpBackend("http://testserver", client=http, retries=0))

        yield Team(clock, make)


def _from_header(request: Request) -> Registry:
    name, role = request.headers["X-Test-Actor"].split(":")
    registry: Registry = request.app.state.registry
    return registry.as_actor(Actor(name, role=role))


@pytest.fixture
def churn(team: Team, model_dir: Path) -> Client:
    """alice (admin) with churn/1 (auc 0.80), churn/2 (0.85), churn/3 (0.90); churn/1 in production."""
    alice = team("alice")
    for auc in (0.80, 0.85, 0.90):
        alice.push("churn", model_dir, metrics={"auc": auc})
    alice.set_stage("churn/1", "production")
    return alice


def stages(client: Client) -> dict[int, str]:
    return {v.version: v.stage for v in client.list_versions("churn")}


def state(client: Client) -> dict[str, Any]:
    """Everything promotion could change: stages, aliases, their histories, requests, the audit log."""
    return {
        "stages": stages(client),
        "aliases": client.get_model("churn").aliases,
        "stage_history": [client.stage_history(f"churn/{n}") for n in (1, 2, 3)],
        "promotions": client.list_promotions(),
        "audit": [e.seq for e in client.audit_events(limit=1000)],
    }


def actions(client: Client, prefix: str) -> list[tuple[str, dict[str, Any]]]:
    return [(e.action, e.data) for e in client.audit_events(action=prefix, limit=1000)]


def test_n_of_m_with_separation_of_duties(team: Team, churn: Client) -> None:
    churn.set_policy(TWO_APPROVALS)
    bob, carol = team("bob", "approver"), team("carol", "approver")
    request = churn.request_promotion("churn/3", to="production", comment="beats v1")
    assert (request.status, request.approvals_required, request.approvals) == ("pending", 2, ())
    with pytest.raises(errors.SeparationOfDuties) as own:
        churn.approve(request.id)
    assert isinstance(own.value, errors.PermissionDenied) and own.value.code == "SEPARATION_OF_DUTIES"
    once = bob.approve(request.id, comment="eval ok")
    assert (once.status, [a.actor for a in once.approvals]) == ("pending", ["bob"])
    with pytest.raises(errors.AlreadyApproved):
        bob.approve(request.id)
    assert stages(churn) == {1: "production", 2: "none", 3: "none"}
    applied = carol.approve(request.id, comment="ship it")
    assert (applied.status, applied.closed_by, [a.comment for a in applied.approvals]) == (
        "applied",
        "carol",
        ["eval ok", "ship it"],
    )
    assert stages(churn) == {1: "archived", 2: "none", 3: "production"}
    assert [(c.stage, c.request_id) for c in churn.stage_history("churn/3")] == [("production", request.id)]
    archived = churn.stage_history("churn/1")
    assert [(c.stage, c.request_id) for c in archived] == [("production", None), ("archived", request.id)]
    assert archived[0].until == archived[1].since == churn.stage_history("churn/3")[0].since
    assert churn.get_promotion(request.id) == applied


def test_direct_moves_refused_only_when_approvals_are_required(team: Team, churn: Client) -> None:
    churn.set_stage("churn/2", "production")  # no policy: the historical direct move, nothing archived
    churn.set_alias("churn", "champion", 2)
    assert stages(churn) == {1: "production", 2: "production", 3: "none"}
    churn.set_policy(TWO_APPROVALS + '[[rule]]\ntarget = "@champion"\napprovals = 1\n')
    before = state(churn)
    for move in (
        lambda: churn.set_stage("churn/3", "production"),
        lambda: churn.set_alias("churn", "champion", 3),
    ):
        with pytest.raises(errors.PermissionDenied) as refused:
            move()
        assert refused.value.code == "PERMISSION_DENIED" and "request_promotion" in refused.value.message
    assert state(churn) == before
    churn.set_alias("churn", "shadow", 3)  # not protected: still direct
    churn.set_stage("churn/3", "staging")
    churn.set_policy('[[rule]]\ntarget = "production"\napprovals = 0\nrequire = ["metric:auc"]\n')
    assert churn.set_stage("churn/3", "production").stage == "production"  # 0 approvals: checked, applied
    assert stages(churn) == {
        1: "archived",
        2: "archived",
        3: "production",
    }  # and archived, as the policy says


def test_zero_approvals_apply_at_once(team: Team, churn: Client) -> None:
    contributor = team("dave", "contributor")
    applied = contributor.request_promotion("churn", to="@champion", comment="first champion")
    assert (applied.status, applied.target, applied.version, applied.closed_by) == (
        "applied",
        "@champion",
        3,
        "dave",
    )
    assert churn.get_model("churn").aliases == {"champion": 3}
    assert [(c.version, c.request_id) for c in churn.alias_history("churn", "champion")] == [(3, applied.id)]
    staged = contributor.request_promotion("churn/2", to="production")
    assert staged.status == "applied" and stages(churn) == {1: "archived", 2: "production", 3: "none"}


def test_request_time_refusal_lists_every_failed_check(team: Team, churn: Client) -> None:
    churn.set_policy(
        '[[rule]]\nrequire = ["signature", "description", "dataset:train", "card:intended_use"]\n'
        'gates = ["metrics.auc >= 0.95", "metrics.auc >= production", "metrics.loss < 1"]\n'
    )
    before = state(churn)
    with pytest.raises(errors.PolicyCheckFailed) as refused:
        churn.request_promotion("churn/2", to="production")
    failed = refused.value.details["failed"]
    assert [item["check"] for item in failed] == [
        "signature",
        "description",
        "dataset:train",
        "card:intended_use",
        "metrics.auc >= 0.95",
        "metrics.loss < 1",
    ]  # auc 0.85 >= production's 0.80 passes
    assert failed[4]["reason"] == "auc is 0.85" and refused.value.code == "POLICY_CHECK_FAILED"
    assert state(churn) == before


def test_a_check_failing_at_apply_time_changes_nothing(team: Team, churn: Client) -> None:
    churn.set_policy('[[rule]]\napprovals = 1\ngates = ["metrics.auc >= production"]\n')
    bob = team("bob", "approver")
    weaker = churn.request_promotion("churn/2", to="production", comment="0.85 beats 0.80")
    stronger = churn.request_promotion("churn/3", to="production", comment="0.90")
    assert bob.approve(stronger.id).status == "applied"
    before = state(churn)
    with pytest.raises(errors.PolicyCheckFailed) as refused:
        bob.approve(weaker.id, comment="late")
    assert refused.value.details["failed"] == [
        {
            "check": "metrics.auc >= production",
            "reason": "auc is 0.85; production version churn/3 has 0.9",
        }
    ]
    assert state(churn) == before  # not even bob's approval was recorded
    assert churn.get_promotion(weaker.id).approvals == ()


def test_expired_requests_are_refused_and_shown_expired(team: Team, churn: Client) -> None:
    churn.set_policy("[[rule]]\napprovals = 1\nexpires_hours = 1\n")
    bob = team("bob", "approver")
    request = churn.request_promotion("churn/3", to="production")
    assert request.expires_at == request.requested_at + timedelta(hours=1)
    team.clock.now += timedelta(hours=1, seconds=1)
    assert churn.get_promotion(request.id).status == "expired"
    assert [p.id for p in churn.list_promotions("churn", status="expired")] == [request.id]
    assert churn.list_promotions("churn", status="pending") == []
    for _ in range(2):
        with pytest.raises(errors.PromotionExpired):
            bob.approve(request.id)
        assert [a for a, _ in actions(churn, "registry:promotion:expire")] == ["registry:promotion:expire"]
    assert stages(churn)[3] == "none" and churn.get_promotion(request.id).approvals == ()


def test_reject_and_cancel_are_final(team: Team, churn: Client) -> None:
    churn.set_policy(TWO_APPROVALS)
    bob = team("bob", "approver")
    dave = team("dave", "contributor")
    first = dave.request_promotion("churn/2", to="production")
    second = dave.request_promotion("churn/3", to="production")
    own = churn.request_promotion("churn/3", to="production")
    with pytest.raises(errors.SeparationOfDuties):
        churn.reject(own.id)  # one cancels one's own request instead
    with pytest.raises(errors.PermissionDenied):
        dave.reject(first.id)  # a contributor may not reject at all
    with pytest.raises(errors.PermissionDenied):
        bob.cancel(first.id)  # an approver cannot withdraw someone else's request
    rejected = bob.reject(first.id, comment="no eval report")
    assert (rejected.status, rejected.closed_by, rejected.closed_comment) == (
        "rejected",
        "bob",
        "no eval report",
    )
    cancelled = dave.cancel(second.id, comment="wrong version")
    assert (cancelled.status, cancelled.closed_by) == ("cancelled", "dave")
    for request in (first, second):
        for step in (bob.approve, bob.reject, dave.cancel):
            with pytest.raises(errors.PromotionClosed):
                step(request.id)
    assert stages(churn) == {1: "production", 2: "none", 3: "none"}
    assert churn.list_promotions(status="rejected") == [rejected]
    assert [p.id for p in churn.list_promotions("churn", status="pending")] == [own.id]


def test_every_step_is_audited_with_its_comment(team: Team, churn: Client) -> None:
    churn.set_policy(TWO_APPROVALS)
    bob, carol = team("bob", "approver"), team("carol", "approver")
    applied = churn.request_promotion("churn/3", to="production", comment="why: auc")
    bob.approve(applied.id, comment="bob: ok")
    carol.approve(applied.id, comment="carol: ok")
    dropped = churn.request_promotion("churn/2", to="production", comment="try v2")
    bob.reject(dropped.id, comment="bob: no")
    events = actions(churn, "registry:promotion:*")
    assert [(a, d.get("comment"), d["request_id"]) for a, d in events] == [
        ("registry:promotion:request", "why: auc", applied.id),
        ("registry:promotion:approve", "bob: ok", applied.id),
        ("registry:promotion:approve", "carol: ok", applied.id),
        ("registry:promotion:apply", None, applied.id),
        ("registry:promotion:request", "try v2", dropped.id),
        ("registry:promotion:reject", "bob: no", dropped.id),
    ]
    moves = [(e.actor, e.target, e.data) for e in churn.audit_events(action="registry:stage:set", limit=100)][
        -2:
    ]
    assert moves == [
        ("carol", "churn/1", {"before": "production", "after": "archived", "request_id": applied.id}),
        ("carol", "churn/3", {"before": "none", "after": "production", "request_id": applied.id}),
    ]
    assert churn.verify_audit().ok


def test_rollback_governed_and_emergency(team: Team, churn: Client) -> None:
    churn.set_alias("churn", "champion", 1)
    churn.set_alias("churn", "champion", 2)
    undone = churn.rollback("churn@champion", comment="v2 misbehaves")  # no policy: 0 approvals
    assert (undone.status, undone.kind, undone.version) == ("applied", "rollback", 1)
    assert churn.get_model("churn").aliases["champion"] == 1
    churn.set_policy('protected_aliases = ["champion"]\n[[rule]]\ntarget = "@champion"\napprovals = 1\n')
    pending = churn.rollback("churn@champion")  # back to 2, but approvals are required now
    assert (pending.status, pending.version, pending.target) == ("pending", 2, "@champion")
    assert churn.get_model("churn").aliases["champion"] == 1
    assert team("bob", "approver").approve(pending.id).status == "applied"
    assert churn.get_model("churn").aliases["champion"] == 2
    with pytest.raises(errors.PermissionDenied):
        team("dave", "contributor").rollback("churn@champion", emergency=True)
    assert churn.get_model("churn").aliases["champion"] == 2
    emergency = churn.rollback("churn@champion", comment="pager at 3am", emergency=True)
    assert (emergency.status, emergency.version, emergency.approvals) == ("applied", 1, ())
    history = churn.alias_history("churn", "champion")
    assert [(c.version, c.request_id) for c in history] == [
        (1, None),
        (2, None),
        (1, undone.id),
        (2, pending.id),
        (1, emergency.id),
    ]
    rollbacks = [
        (d["emergency"], d["comment"], d["after"]) for _, d in actions(churn, "registry:alias:rollback")
    ]
    assert rollbacks == [(False, "v2 misbehaves", 1), (False, "", 2), (True, "pager at 3am", 1)]


def test_rollback_needs_a_live_previous_version(team: Team, churn: Client) -> None:
    with pytest.raises(errors.AliasNotFound):
        churn.rollback("churn@champion")
    churn.set_alias("churn", "champion", 3)
    with pytest.raises(errors.VersionNotFound, match="no previous version"):
        churn.rollback("churn@champion")
    churn.set_alias("churn", "champion", 1)
    churn.set_alias("churn", "champion", 1)  # same target again: skipped when looking back
    churn.delete_version("churn/3")
    with pytest.raises(errors.VersionDeleted):
        churn.rollback("churn@champion", emergency=True)  # the existence checks stay
    assert churn.get_model("churn").aliases == {"champion": 1}


def test_policy_set_show_remove(team: Team, churn: Client) -> None:
    default = churn.get_policy()
    assert (default.source, default.protected_aliases, default.rules) == (
        "default",
        ("champion", "production"),
        0,
    )
    with pytest.raises(errors.PermissionDenied):
        team("dave", "contributor").set_policy(TWO_APPROVALS)
    stored = churn.set_policy(TWO_APPROVALS)
    assert (stored.source, stored.rules, stored.text, stored.updated_by) == (
        "database",
        1,
        TWO_APPROVALS,
        "alice",
    )
    assert team("vera", "viewer").get_policy() == stored
    churn.delete_policy()
    assert churn.get_policy().source == "default"
    with pytest.raises(errors.PolicyNotFound):
        churn.delete_policy()
    assert [a for a, _ in actions(churn, "registry:policy:*")] == [
        "registry:policy:set",
        "registry:policy:delete",
    ]


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda c: c.request_promotion("churn/2", to="nowhere"), "INVALID_INPUT"),
        (lambda c: c.request_promotion("churn/2", to="none"), "INVALID_INPUT"),
        (lambda c: c.request_promotion("churn/2", to="@latest"), "INVALID_INPUT"),
        (lambda c: c.request_promotion("churn/2", to="production", comment=["x"]), "INVALID_INPUT"),
        (lambda c: c.request_promotion("churn/9", to="production"), "VERSION_NOT_FOUND"),
        (lambda c: c.approve(0), "INVALID_INPUT"),
        (lambda c: c.approve("7"), "INVALID_INPUT"),
        (lambda c: c.reject(2**70), "INVALID_INPUT"),
        (lambda c: c.get_promotion(999), "PROMOTION_NOT_FOUND"),
        (lambda c: c.list_promotions(status="open"), "INVALID_INPUT"),
        (lambda c: c.list_promotions("no such"), "INVALID_NAME"),
        (lambda c: c.rollback("churn"), "INVALID_REFERENCE"),
        (lambda c: c.rollback("churn@champion", emergency="yes"), "INVALID_INPUT"),
        (lambda c: c.set_policy("[[rule]\n"), "INVALID_POLICY"),
        (lambda c: c.set_policy("approvals = 2\n"), "INVALID_POLICY"),
        (lambda c: c.set_policy('[[rule]]\ngates = ["auc > 0.9"]\n'), "INVALID_POLICY"),
        (lambda c: c.set_policy('[[rule]]\ntarget = "prod"\n'), "INVALID_POLICY"),
        (lambda c: c.set_policy(42), "INVALID_POLICY"),
    ],
)
def test_bad_input_changes_nothing(
    team: Team, churn: Client, call: Callable[[Client], Any], code: str
) -> None:
    before = state(churn)
    with pytest.raises(errors.ModelregError) as refused:
        call(churn)
    assert refused.value.code == code
    assert isinstance(refused.value, errors.InvalidInput | errors.NotFound)
    assert state(churn) == before


def test_results_are_plain_values(churn: Client) -> None:
    applied = churn.request_promotion("churn/2", to="staging")
    assert isinstance(applied, Promotion) and applied.ref == "churn/2"
    assert Promotion.from_dict(applied.to_dict()) == applied


def test_leaving_a_governed_target_needs_emergency_rights(team: Team, churn: Client) -> None:
    """Under a policy that wants approvals, a contributor can neither delete the protected alias, nor move
    the production version out, nor delete a version holding either; an admin (promotion:emergency) can."""
    churn.set_alias("churn", "champion", 2)
    churn.set_policy(TWO_APPROVALS + '[[rule]]\ntarget = "@champion"\napprovals = 1\n')
    dave = team("dave", "contributor")
    before = state(churn)
    for leave in (
        lambda: dave.delete_alias("churn", "champion"),
        lambda: dave.set_stage("churn/1", "archived"),
    ):
        with pytest.raises(errors.PermissionDenied) as refused:
            leave()
        assert refused.value.code == "PERMISSION_DENIED" and "leaving" in refused.value.message
    assert state(churn) == before
    dave.set_alias("churn", "shadow", 3)
    dave.delete_alias("churn", "shadow")  # not governed: direct as ever
    churn.set_stage("churn/1", "archived")  # alice is an admin: allowed, and audited
    churn.delete_alias("churn", "champion")
    assert stages(churn)[1] == "archived" and "champion" not in churn.get_model("churn").aliases
    assert [a for a, _ in actions(churn, "registry:alias:delete")] == ["registry:alias:delete"] * 2
