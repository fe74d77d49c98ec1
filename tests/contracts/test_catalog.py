"""A model's lifecycle on both SDKs × SQLite + PostgreSQL: create, rename, delete (and revive), and
registering versions under explicit numbers (imports).

``reg`` is alice (admin); ``people`` hands out clients of other roles on the same registry, embedded
(``Registry.as_actor``) or over HTTP through the real API app, whose caller comes from a test header.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from modelreg import errors
from modelreg.access import Actor, Grant
from modelreg.client.client import Client
from modelreg.registry.service import Registry
from tests.conftest import SDKS, _InProcess

People = Callable[..., Client]


@pytest.fixture(params=SDKS)
def people(request: pytest.FixtureRequest, database: str, storage_url: str) -> Iterator[People]:
    """``people(name, role, models=None)``: a client acting as that person (with ``models``: the role as a
    grant on that model-name pattern only, no global role)."""
    from modelreg.api import create_app
    from modelreg.api.auth import caller_registry
    from modelreg.client.http import HttpBackend
    from modelreg.connection import open_stores

    metadata, chunks = open_stores(database, storage=storage_url)
    base = Registry(metadata, chunks, actor=Actor("server", role="none"))
    with contextlib.ExitStack() as stack:
        if request.param == "embedded":
            stack.callback(metadata.close)

            def make(name: str, role: str = "admin", models: str | None = None) -> Client:
                return Client(base.as_actor(_actor(f"{name}:{role}:{models or ''}")))
        else:
            app = create_app(base, on_close=metadata.close)
            app.dependency_overrides[caller_registry] = _from_header
            served = stack.enter_context(TestClient(app, base_url="http://testserver"))

            def make(name: str, role: str = "admin", models: str | None = None) -> Client:
                headers = {"X-Test-Actor": f"{name}:{role}:{models or ''}"}
                http = stack.enter_context(httpx.Client(transport=_InProcess(served), headers=headers))
                return Client(HttpBackend("http://testserver", client=http, retries=0))

        yield make


def _actor(spec: str) -> Actor:
    name, role, models = spec.split(":")
    return Actor(name, role="none", grants=(Grant(role, models),)) if models else Actor(name, role=role)


def _from_header(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry.as_actor(_actor(request.headers["X-Test-Actor"]))


def push_three(client: Client, name: str, root: Path) -> None:
    """Versions 1, 2, 3 of ``name`` with different content."""
    for number in (1, 2, 3):
        (root / "config.json").write_text(f'{{"n": {number}}}')
        client.push(name, root)


def events(client: Client, action: str) -> list[tuple[str | None, str, dict[str, Any]]]:
    return [(e.model, e.target, e.data) for e in client.audit_events(action=action, limit=1000).items]


def snapshot(client: Client, name: str) -> dict[str, Any]:
    """What a refused call must leave as it was: the model, every version, the audit log's length."""
    return {
        "model": client.get_model(name),
        "versions": client.list_versions(name, include_deleted=True).items,
        "events": len(client.audit_events(limit=1000).items),
    }


# --- create -----------------------------------------------------------------------------------------------


def test_create_an_empty_model_then_push_to_it(reg: Client, model_dir: Path) -> None:
    model = reg.create_model("churn", description="predicts churn", tags={"team": "risk"})
    assert (model.name, model.description, model.tags) == ("churn", "predicts churn", {"team": "risk"})
    assert (model.latest_version, model.aliases, model.created_by) == (None, {}, "alice")
    assert reg.get_model("churn") == model
    assert [m.name for m in reg.list_models().items] == ["churn"]
    assert reg.list_versions("churn").items == []
    with pytest.raises(errors.ModelAlreadyExists) as taken:
        reg.create_model("churn")
    assert (
        taken.value.code == "MODEL_ALREADY_EXISTS" and taken.value.message == "model 'churn' already exists"
    )
    assert reg.push("churn", model_dir).version == 1
    assert reg.get_model("churn").description == "predicts churn"  # a push keeps the model as it is
    assert events(reg, "registry:model:create") == [
        ("churn", "churn", {"description": "predicts churn", "tags": {"team": "risk"}, "revived": False})
    ]


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        ({"name": "a b"}, "INVALID_NAME"),
        ({"name": "-x"}, "INVALID_NAME"),
        ({"name": "x" * 129}, "INVALID_NAME"),
        ({"name": ""}, "INVALID_NAME"),
        ({"name": "ok", "description": 5}, "INVALID_METADATA"),
        ({"name": "ok", "description": "\x00"}, "INVALID_METADATA"),
        ({"name": "ok", "tags": {"k": 1}}, "INVALID_METADATA"),
        ({"name": "ok", "tags": {"bad key!": "v"}}, "INVALID_METADATA"),
        ({"name": "ok", "tags": ["k"]}, "INVALID_METADATA"),
    ],
)
def test_create_refuses_bad_input_and_stores_nothing(
    reg: Client, arguments: dict[str, Any], code: str
) -> None:
    with pytest.raises(errors.InvalidInput) as refused:
        reg.create_model(**arguments)
    assert refused.value.code == code
    assert reg.list_models().items == [] and reg.audit_events().items == []


# --- delete and revive ------------------------------------------------------------------------------------


def test_a_deleted_model_is_gone_from_every_read(reg: Client, model_dir: Path) -> None:
    push_three(reg, "churn", model_dir)
    reg.set_alias("churn", "champion", 2)
    reg.set_stage("churn/3", "staging")
    reg.push("other", model_dir)
    reg.delete_model("churn")
    for read in (
        lambda: reg.get_model("churn"),
        lambda: reg.get_version("churn"),
        lambda: reg.get_version("churn/1"),
        lambda: reg.get_version("churn@champion"),
        lambda: reg.get_version(f"churn@{reg.list_versions('other').items[0].digest}"),
        lambda: reg.list_versions("churn", include_deleted=True),
        lambda: reg.alias_history("churn", "champion"),
        lambda: reg.stage_history("churn/3"),
        lambda: reg.resolve("churn@champion"),
        lambda: reg.resolve("churn/2", at="2999-01-01T00:00:00Z"),
        lambda: reg.list_holds("churn"),
        lambda: reg.list_promotions("churn"),
        lambda: reg.deployments(model="churn"),
        lambda: reg.pull("churn/1"),
        lambda: reg.set_tag("churn", "k", "v"),
        lambda: reg.delete_model("churn"),
    ):
        with pytest.raises(errors.ModelNotFound) as gone:
            read()
        assert gone.value.message == "model 'churn' not found"
    assert [m.name for m in reg.list_models().items] == ["other"]
    assert [m.name for m in reg.search_models().items] == ["other"]
    assert [m.name for m in reg.search_models("name = 'churn'").items] == []
    assert [v.name for v in reg.search_versions(include_deleted=True).items] == ["other"]
    assert [p.name for p in reg.list_retention_policies()] == []
    (data,) = [d for _, _, d in events(reg, "registry:model:delete")]
    assert data == {
        "versions_deleted": [1, 2, 3],
        "aliases_removed": ["champion"],
        "promotions_cancelled": [],
        "retention_removed": None,
    }
    assert reg.verify_audit().ok


def test_creating_a_deleted_model_again_revives_it_and_numbers_go_on(reg: Client, model_dir: Path) -> None:
    push_three(reg, "churn", model_dir)
    reg.set_alias("churn", "champion", 3)
    reg.delete_model("churn")
    revived = reg.create_model("churn", description="second life", tags={"gen": "2"})
    assert (revived.description, revived.tags, revived.latest_version, revived.aliases) == (
        "second life",
        {"gen": "2"},
        None,
        {},
    )
    assert reg.push("churn", model_dir).version == 4  # never 1 again
    listed = reg.list_versions("churn", include_deleted=True).items
    assert [(v.version, v.deleted) for v in listed] == [(4, False), (3, True), (2, True), (1, True)]
    assert reg.get_version("churn/2").deleted  # its history is the model's again
    (interval,) = reg.alias_history("churn", "champion")
    assert (interval.version, interval.until is not None, interval.ended_by) == (3, True, "alice")
    with pytest.raises(errors.AliasNotFound):
        reg.get_version("churn@champion")
    created = events(reg, "registry:model:create")
    assert [d.get("revived") for _, _, d in created] == [None, True]  # the first came with a push


def test_a_push_revives_a_deleted_model_too(reg: Client, model_dir: Path) -> None:
    reg.create_model("churn", description="old", tags={"old": "1"})
    reg.push("churn", model_dir)
    reg.delete_model("churn")
    pushed = reg.push("churn", model_dir, aliases=["candidate"])
    assert pushed.version == 2
    model = reg.get_model("churn")
    assert (model.description, model.tags, model.latest_version, model.aliases) == (
        "",
        {},
        2,
        {"candidate": 2},
    )
    assert [(model, data) for model, _, data in events(reg, "registry:model:create")] == [
        ("churn", {"description": "old", "tags": {"old": "1"}, "revived": False}),
        ("churn", {}),  # the push that revived it
    ]


def test_delete_an_empty_model(reg: Client) -> None:
    reg.create_model("empty")
    reg.delete_model("empty")
    assert reg.list_models().items == []
    assert [d["versions_deleted"] for _, _, d in events(reg, "registry:model:delete")] == [[]]


def test_delete_refused_under_legal_hold_changes_nothing(reg: Client, model_dir: Path) -> None:
    push_three(reg, "churn", model_dir)
    reg.set_alias("churn", "champion", 1)
    reg.delete_version("churn/2")
    reg.set_hold("churn/2", reason="case 17")  # a deleted version under hold still blocks the model's delete
    before = snapshot(reg, "churn")
    with pytest.raises(errors.VersionProtected) as refused:
        reg.delete_model("churn")
    assert refused.value.code == "VERSION_PROTECTED"
    assert refused.value.message == "model 'churn' cannot be deleted: churn/2 under legal hold"
    assert refused.value.details == {"reasons": ["hold"], "versions": [2]}
    assert snapshot(reg, "churn") == before
    reg.remove_hold("churn/2")
    reg.delete_model("churn")
    with pytest.raises(errors.ModelNotFound):
        reg.get_model("churn")


def test_delete_refused_while_a_deployment_is_recorded(reg: Client, model_dir: Path) -> None:
    reg.push("churn", model_dir)
    reg.record_deployment("churn/1", environment="prod-eu", endpoint="https://eu.example.com")
    reg.record_deployment("churn/1", environment="prod-us")
    before = snapshot(reg, "churn")
    with pytest.raises(errors.VersionProtected) as refused:
        reg.delete_model("churn")
    assert refused.value.details == {
        "reasons": ["deployment"],
        "deployments": ["prod-eu (https://eu.example.com)", "prod-us"],
    }
    assert "record the end of each deployment first" in refused.value.message
    assert snapshot(reg, "churn") == before
    reg.record_deployment_ended("churn", environment="prod-eu", endpoint="https://eu.example.com")
    reg.record_deployment_ended("churn", environment="prod-us")
    reg.delete_model("churn")
    assert [d.name for d in reg.deployments(at="2999-01-01T00:00:00Z")] == []


def test_delete_cancels_pending_requests_and_drops_the_model_policy(reg: Client, model_dir: Path) -> None:
    push_three(reg, "churn", model_dir)
    reg.set_stage("churn/1", "production")  # direct, before the policy: alice may leave it (emergency)
    reg.set_policy('[[rule]]\nmodels = "churn"\ntarget = "production"\napprovals = 2\n')
    pending = reg.request_promotion("churn/3", to="production", comment="beats v1")
    reg.set_retention_policy("churn", keep_last=5)
    reg.set_retention_policy(keep_last=50)
    reg.delete_model("churn")
    cancelled = reg.get_promotion(pending.id)  # by id, a deleted model's request is still found
    assert (cancelled.status, cancelled.closed_by, cancelled.closed_comment) == (
        "cancelled",
        "alice",
        "model deleted",
    )
    assert reg.list_promotions() == []
    assert [(p.name, p.keep_last) for p in reg.list_retention_policies()] == [(None, 50)]
    assert reg.apply_retention(apply=True).purge == ()  # keep_last selects nothing of a deleted model
    (data,) = [d for _, _, d in events(reg, "registry:model:delete")]
    assert (data["promotions_cancelled"], data["retention_removed"]) == (
        [pending.id],
        {"keep_last": 5, "archived_days": None, "deleted_days": None},
    )
    assert [(m, t, d["comment"]) for m, t, d in events(reg, "registry:promotion:cancel")] == [
        ("churn", f"promotion:{pending.id}", "model deleted")
    ]
    revived = reg.create_model("churn")
    assert revived.name == "churn" and reg.list_retention_policies()[-1].name is None


def test_delete_of_a_governed_alias_by_an_admin_is_recorded(reg: Client, model_dir: Path) -> None:
    """Where the policy wants approvals, leaving @champion takes promotion:emergency, which every holder of
    model:delete has with the built-in roles (admins): the delete goes through and records the alias."""
    reg.push("churn", model_dir, aliases=["champion"])
    reg.set_policy('[[rule]]\ntarget = "@champion"\napprovals = 1\n')
    reg.delete_model("churn")
    assert [d["aliases_removed"] for _, _, d in events(reg, "registry:model:delete")] == [["champion"]]


# --- rename -----------------------------------------------------------------------------------------------


def test_rename_moves_versions_aliases_and_history(reg: Client, model_dir: Path) -> None:
    push_three(reg, "churn", model_dir)
    reg.set_alias("churn", "champion", 1)
    reg.set_alias("churn", "champion", 2)
    reg.set_stage("churn/2", "production")
    reg.set_hold("churn/1", reason="audit")
    reg.set_retention_policy("churn", keep_last=9)
    renamed = reg.rename_model("churn", "churn-v2")
    assert (renamed.name, renamed.latest_version, renamed.aliases) == ("churn-v2", 3, {"champion": 2})
    assert reg.get_version("churn-v2@champion").version == 2
    assert reg.get_version("churn-v2/2").stage == "production"
    assert [(c.name, c.version) for c in reg.alias_history("churn-v2", "champion")] == [
        ("churn-v2", 1),
        ("churn-v2", 2),
    ]
    assert [s.stage for s in reg.stage_history("churn-v2/2")] == ["production"]
    assert [(h.name, h.version) for h in reg.list_holds()] == [("churn-v2", 1)]
    assert [(p.name, p.keep_last) for p in reg.list_retention_policies()] == [("churn-v2", 9)]
    with pytest.raises(errors.ModelNotFound):
        reg.get_version("churn/1")
    assert reg.push("churn-v2", model_dir).version == 4
    # The audit log keeps each event's name as it was then; the rename says both.
    assert {e.model for e in reg.audit_events(action="registry:version:create", limit=10).items} == {
        "churn",
        "churn-v2",
    }
    assert events(reg, "registry:model:rename") == [
        ("churn-v2", "churn-v2", {"before": "churn", "after": "churn-v2"})
    ]
    reg.push("churn", model_dir)  # the old name is free: a new model, numbered from 1
    assert reg.get_model("churn").latest_version == 1


def test_rename_to_a_taken_name_is_refused_and_changes_nothing(reg: Client, model_dir: Path) -> None:
    reg.push("a", model_dir, aliases=["champion"])
    reg.push("b", model_dir)
    reg.push("gone", model_dir)
    reg.delete_model("gone")
    before = snapshot(reg, "a")
    for new_name, message in (
        ("b", "model 'b' already exists"),
        ("a", "model 'a' already exists"),
        (
            "gone",
            "model 'gone' already exists (deleted: its name keeps its history until it is created again)",
        ),
    ):
        with pytest.raises(errors.ModelAlreadyExists) as taken:
            reg.rename_model("a", new_name)
        assert (taken.value.code, taken.value.message) == ("MODEL_ALREADY_EXISTS", message)
    for name, new_name, error in (
        ("nope", "c", errors.ModelNotFound),
        ("gone", "c", errors.ModelNotFound),
        ("a b", "c", errors.InvalidName),
        ("a", "c/d", errors.InvalidName),
        ("a", "", errors.InvalidName),
    ):
        with pytest.raises(error):
            reg.rename_model(name, new_name)
    assert snapshot(reg, "a") == before
    assert [m.name for m in reg.list_models().items] == ["a", "b"]


def test_rename_keeps_pending_requests_and_their_approvals(people: People, model_dir: Path) -> None:
    alice, bob = people("alice"), people("bob", "approver")
    alice.push("risk-churn", model_dir)
    alice.set_policy('[[rule]]\nmodels = "risk-*"\ntarget = "production"\napprovals = 1\n')
    request = alice.request_promotion("risk-churn/1", to="production")
    alice.rename_model("risk-churn", "churn")
    moved = alice.get_promotion(request.id)
    assert (moved.name, moved.status, moved.approvals_required) == ("churn", "pending", 1)
    applied = bob.approve(request.id)  # the request still takes the approval it was opened with
    assert (applied.status, alice.get_version("churn/1").stage) == ("applied", "production")


# --- permissions ------------------------------------------------------------------------------------------


def test_who_may_create_rename_delete_and_import(people: People, model_dir: Path) -> None:
    admin, contributor, viewer = people("ann"), people("carl", "contributor"), people("vera", "viewer")
    admin.push("m", model_dir)
    before = snapshot(admin, "m")
    for call in (
        lambda c: c.create_model("new"),
        lambda c: c.rename_model("m", "n"),
        lambda c: c.delete_model("m"),
        lambda c: c.push("m", model_dir, version=9),
    ):
        with pytest.raises(errors.PermissionDenied) as denied:
            call(viewer)
        assert denied.value.code == "PERMISSION_DENIED"
    for call, permission in (
        (lambda c: c.rename_model("m", "n"), "model:rename"),
        (lambda c: c.delete_model("m"), "model:delete"),
        (lambda c: c.push("m", model_dir, version=9), "version:import"),
    ):
        with pytest.raises(errors.PermissionDenied) as denied:
            call(contributor)
        assert denied.value.details["permission"] == permission
    assert snapshot(admin, "m") == before
    assert contributor.create_model("new", tags={"by": "carl"}).created_by == "carl"
    assert admin.rename_model("new", "newer").name == "newer"
    admin.delete_model("newer")
    assert [m.name for m in viewer.list_models().items] == ["m"]


def test_a_rename_needs_the_permission_on_both_names(people: People, model_dir: Path) -> None:
    people("ann").push("team-a-churn", model_dir)
    scoped = people("sam", "admin", "team-a-*")
    with pytest.raises(errors.PermissionDenied) as denied:
        scoped.rename_model("team-a-churn", "team-b-churn")
    assert denied.value.details == {"permission": "model:rename", "role": "none", "model": "team-b-churn"}
    assert scoped.rename_model("team-a-churn", "team-a-churn2").name == "team-a-churn2"
    with pytest.raises(errors.PermissionDenied):
        scoped.create_model("team-b-x")


# --- explicit version numbers (imports) -------------------------------------------------------------------


def test_import_under_explicit_numbers(reg: Client, model_dir: Path) -> None:
    first = reg.push("m", model_dir, version=5, metrics={"auc": 0.9})
    assert (first.version, first.metrics) == (5, {"auc": 0.9})
    assert reg.push("m", model_dir).version == 6  # the counter goes on from the import
    assert reg.push("m", model_dir, version=10).version == 10
    reg.delete_version("m/10")
    before = snapshot(reg, "m")
    for number in (10, 6, 5, 1):  # a deleted version's number, or any not above the highest: refused
        with pytest.raises(errors.VersionExists) as exists:
            reg.push("m", model_dir, version=number)
        assert exists.value.code == "VERSION_EXISTS"
        assert exists.value.details == {"version": number, "last_version": 10}
    assert exists.value.message == (
        "model 'm' has had versions up to 10: an imported version needs a number above 10, not 1"
    )
    for bad in (0, -1, 2**31, True, "11", 11.0):
        with pytest.raises(errors.InvalidInput) as invalid:
            reg.push("m", model_dir, version=bad)  # type: ignore[arg-type]
        assert invalid.value.code == "INVALID_INPUT"
    assert snapshot(reg, "m") == before
    assert reg.push("m", model_dir).version == 11  # skipped numbers (7-9) are never used
    assert [v.version for v in reg.list_versions("m", include_deleted=True).items] == [11, 10, 6, 5]
    created = reg.audit_events(action="registry:version:create", limit=10).items
    assert [(e.target, e.data.get("imported")) for e in created] == [
        ("m/5", True),
        ("m/6", None),
        ("m/10", True),
        ("m/11", None),
    ]
    assert reg.push("fresh", model_dir, version=3).version == 3  # a new model may start anywhere


def test_an_import_retried_with_its_key_returns_the_first_version(reg: Client, model_dir: Path) -> None:
    first = reg.push("m", model_dir, version=7, idempotency_key="import-m-7")
    again = reg.push("m", model_dir, version=7, idempotency_key="import-m-7")
    assert again == first
    with pytest.raises(errors.IdempotencyKeyReused):
        reg.push("m", model_dir, version=8, idempotency_key="import-m-7")
    assert [v.version for v in reg.list_versions("m").items] == [7]
