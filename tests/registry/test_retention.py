"""The retention rules in detail, on SQLite and PostgreSQL: who may do what, how keep_last counts, when
archived_days starts selecting (a clock moved by hand), model policies replacing the global one, and the
audit events a purge leaves."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from modelreg import errors
from modelreg.access import Actor
from modelreg.blobs.file import FileChunkStore
from modelreg.client.client import Client
from modelreg.metadata.store import SqlMetadataStore
from modelreg.registry import retention
from modelreg.registry.service import Registry
from tests.clock import Clock


@pytest.fixture
def admin(database: str, tmp_path: Path, clock: Clock) -> Iterator[Registry]:
    store = SqlMetadataStore(database)
    yield Registry(store, FileChunkStore(tmp_path / "chunks"), actor=Actor("root", role="admin"), clock=clock)
    store.close()


def push(admin: Registry, name: str, tmp_path: Path, count: int) -> None:
    source = tmp_path / "src"
    source.mkdir(exist_ok=True)
    client = Client(admin)
    for number in range(count):
        (source / "w.txt").write_text(f"{name} {number}")
        client.push(name, source)


def selected(report_items: tuple) -> list[tuple[str, int, tuple[str, ...]]]:  # type: ignore[type-arg]
    return [(c.name, c.version, c.rules) for c in report_items]


def test_only_admins_hold_purge_and_set_policies(admin: Registry, tmp_path: Path) -> None:
    push(admin, "m", tmp_path, 2)
    for role in ("viewer", "contributor"):
        other = admin.as_actor(Actor(f"token:{role}", role=role))
        calls: list[tuple[Any, tuple[Any, ...], dict[str, Any]]] = [
            (other.set_hold, ("m/1",), {"reason": "x"}),
            (other.remove_hold, ("m/1",), {}),
            (other.purge_version, ("m/1",), {}),
            (other.set_retention_policy, (), {"keep_last": 1}),
            (other.delete_retention_policy, (), {}),
            (other.apply_retention, (), {}),
        ]
        for call, args, kwargs in calls:
            with pytest.raises(errors.PermissionDenied):
                call(*args, **kwargs)
        assert other.list_holds() == [] and other.list_retention_policies() == []  # reads are allowed
    assert not admin.get_version("m/1").purged


def test_keep_last_counts_live_versions_and_keeps_deleted_ones_inside_the_window(
    admin: Registry, tmp_path: Path
) -> None:
    push(admin, "m", tmp_path, 6)
    admin.delete_version("m/5")  # newer than the 2nd newest live version: inside the window, kept
    admin.delete_version("m/2")  # older: selected like any other
    admin.set_retention_policy(keep_last=2)
    report = admin.apply_retention()
    assert selected(report.purge) == [
        ("m", 1, ("keep_last",)),
        ("m", 2, ("keep_last",)),
        ("m", 3, ("keep_last",)),
    ]
    admin.set_retention_policy(keep_last=4)  # only 4 live versions (6, 4, 3, 1): nothing to select
    assert admin.apply_retention().purge == ()
    admin.purge_version("m/6")
    report = admin.apply_retention()  # purged versions are not live: the window now reaches m/1
    assert selected(report.purge) == [] and report.protected == ()
    admin.set_retention_policy(keep_last=1)
    assert [c.version for c in admin.apply_retention(apply=True).purge] == [1, 2, 3]
    assert [v.version for v in admin.list_versions("m", include_deleted=True) if not v.purged] == [5, 4]


def test_archived_days_selects_after_d_days_in_archived(
    admin: Registry, tmp_path: Path, clock: Clock
) -> None:
    push(admin, "m", tmp_path, 3)
    admin.set_stage("m/1", "archived")
    clock.now += timedelta(days=2)
    admin.set_stage("m/2", "archived")
    admin.set_retention_policy("m", archived_days=3)
    clock.now += timedelta(days=1)  # m/1 archived 3 days ago exactly: not *more* than 3
    assert admin.apply_retention().purge == ()
    clock.now += timedelta(seconds=1)
    assert selected(admin.apply_retention().purge) == [("m", 1, ("archived_days",))]
    admin.set_stage("m/1", "staging")  # leaving archived resets the clock
    assert admin.apply_retention().purge == ()
    clock.now += timedelta(days=2)
    assert selected(admin.apply_retention("m", apply=True).purge) == [("m", 2, ("archived_days",))]


def test_a_model_policy_replaces_the_global_one_and_can_exempt(admin: Registry, tmp_path: Path) -> None:
    push(admin, "a", tmp_path, 3)
    push(admin, "b", tmp_path, 3)
    admin.set_retention_policy(keep_last=1)
    assert selected(admin.apply_retention().purge) == [
        ("a", 1, ("keep_last",)),
        ("a", 2, ("keep_last",)),
        ("b", 1, ("keep_last",)),
        ("b", 2, ("keep_last",)),
    ]
    admin.set_retention_policy("b")  # no rule: b is exempt
    admin.set_retention_policy("a", keep_last=2)
    assert selected(admin.apply_retention().purge) == [("a", 1, ("keep_last",))]
    assert admin.apply_retention("b").purge == ()


def test_purges_are_audited_with_their_cause(admin: Registry, tmp_path: Path) -> None:
    push(admin, "m", tmp_path, 3)
    admin.purge_version("m/1")
    admin.set_retention_policy("m", keep_last=1)
    admin.apply_retention(apply=True)
    with admin.metadata.session() as session:
        events = [e for e in session.audit_events(limit=1000) if e.action == "registry:version:purge"]
    assert [(e.target, e.actor, json.loads(e.data_json)) for e in events] == [
        ("m/1", "root", {"by": "explicit", "rules": []}),
        ("m/2", "root", {"by": "retention", "rules": ["keep_last"]}),
    ]
    version = admin.get_version("m/2")
    assert version.purged_at == events[1].at


def test_a_long_apply_purges_in_several_transactions_and_reports_once(
    admin: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "_PURGE_BATCH", 2)  # 5 to purge: transactions of 2, 2 and 1
    push(admin, "m", tmp_path, 8)
    admin.set_alias("m", "champion", 3)
    admin.set_retention_policy(keep_last=2)
    report = admin.apply_retention(apply=True)
    assert [c.version for c in report.purge] == [1, 2, 4, 5, 6]
    assert [(c.version, c.protected_by) for c in report.protected] == [(3, ("alias:champion",))]
    assert [v.version for v in admin.list_versions("m") if not v.purged] == [8, 7, 3]


def test_deleted_days_selects_versions_deleted_more_than_d_days_ago(
    admin: Registry, tmp_path: Path, clock: Clock
) -> None:
    push(admin, "m", tmp_path, 3)
    admin.delete_version("m/1")
    clock.now += timedelta(days=2)
    admin.delete_version("m/2")
    admin.set_retention_policy("m", deleted_days=3)
    clock.now += timedelta(days=1)  # m/1 deleted 3 days ago exactly: not *more* than 3
    assert admin.apply_retention().purge == ()
    clock.now += timedelta(seconds=1)
    assert selected(admin.apply_retention().purge) == [("m", 1, ("deleted_days",))]
    clock.now += timedelta(days=2)
    report = admin.apply_retention("m", apply=True)
    assert selected(report.purge) == [("m", 1, ("deleted_days",)), ("m", 2, ("deleted_days",))]
    versions = admin.list_versions("m", include_deleted=True).items
    assert [(v.version, v.purged) for v in versions] == [(3, False), (2, True), (1, True)]
    assert admin.list_retention_policies()[0].deleted_days == 3


def test_a_deleted_models_files_are_reclaimed_under_the_global_deleted_days_rule(
    admin: Registry, tmp_path: Path, clock: Clock
) -> None:
    push(admin, "gone", tmp_path, 2)
    push(admin, "kept", tmp_path, 2)
    admin.delete_version("kept/1")
    admin.set_retention_policy("gone", keep_last=5)  # removed with the model: the global policy decides
    admin.delete_model("gone")
    admin.set_retention_policy(keep_last=10)
    clock.now += timedelta(days=400)
    assert admin.apply_retention().purge == ()  # keep_last selects nothing of a model without live versions
    admin.set_retention_policy(keep_last=10, deleted_days=30)
    rule = ("deleted_days",)
    expected = [("gone", 1, rule), ("gone", 2, rule), ("kept", 1, rule)]
    assert selected(admin.apply_retention().purge) == expected
    with pytest.raises(errors.ModelNotFound):
        admin.apply_retention("gone")  # a deleted model cannot be named, only walked
    assert selected(admin.apply_retention(apply=True).purge) == expected
    gc = admin.collect_garbage(apply=True)
    assert (gc.deleted_chunks, gc.referenced_chunks) == (3, 1)  # 'kept/2' alone still holds its chunk
    with admin.metadata.session() as session:
        events = [e for e in session.audit_events(limit=1000) if e.action == "registry:version:purge"]
    assert [(e.model, e.target, json.loads(e.data_json)["rules"]) for e in events][:2] == [
        ("gone", "gone/1", ["deleted_days"]),
        ("gone", "gone/2", ["deleted_days"]),
    ]
    revived = Client(admin).push("gone", tmp_path / "src")  # a revival goes on after its history
    assert revived.version == 3
    assert [(v.version, v.purged) for v in admin.list_versions("gone", include_deleted=True).items] == [
        (3, False),
        (2, True),
        (1, True),
    ]
