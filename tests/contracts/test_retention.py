"""Retention, legal holds and purges on both SDKs (embedded, HTTP) × SQLite and PostgreSQL.

What must hold: a purge keeps metadata, lineage and history and makes pulls fail with VERSION_PURGED; a
version that holds an alias, is in production or is held is never purged (VERSION_PROTECTED, nothing
changed); a retention dry run changes nothing at all; an apply purges exactly the selected unprotected set;
garbage collection then reclaims the purged versions' unshared chunks while every other version still pulls.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest

from modelreg import errors
from modelreg.access import Actor
from modelreg.client.client import Client
from modelreg.connection import open_stores
from modelreg.metadata.store import SqlMetadataStore
from modelreg.registry.service import Registry
from modelreg.types import RetentionCandidate
from tests.conftest import tree_bytes


def audit_actions(database: str) -> list[str]:
    store = SqlMetadataStore(database)
    with store.session() as session:
        found = [event.action for event in session.audit_events(limit=100_000)]
    store.close()
    return found


def push_versions(reg: Client, name: str, model_dir: Path, count: int) -> None:
    for number in range(1, count + 1):
        (model_dir / "config.json").write_text(f'{{"version": {number}}}')
        reg.push(name, model_dir)


def state(reg: Client, database: str, chunks: Path) -> dict[str, Any]:
    """Everything a retention dry run could change: versions, holds, policies, audit chain, stored chunks."""
    return {
        "versions": [
            v.to_dict() for m in reg.list_models() for v in reg.list_versions(m.name, include_deleted=True)
        ],
        "holds": [h.to_dict() for h in reg.list_holds()],
        "policies": [p.to_dict() for p in reg.list_retention_policies()],
        "audit": audit_actions(database),
        "chunks": sorted(p.name for p in chunks.rglob("*") if p.is_file()),
    }


def test_purge_keeps_metadata_lineage_and_history_and_pulls_fail(
    reg: Client, model_dir: Path, tmp_path: Path
) -> None:
    first = reg.push(
        "m", model_dir, metrics={"auc": 0.9}, tags={"team": "risk"}, lineage={"run_id": "r1"}, aliases=["c"]
    )
    (model_dir / "config.json").write_text('{"layers": 4}')
    reg.push("m", model_dir, lineage={"parents": ["m/1"]})
    reg.set_stage("m/1", "archived")
    reg.set_alias("m", "c", 2)
    purged = reg.purge_version("m/1")
    assert (purged.ref, purged.purged, purged.deleted) == ("m/1", True, False)
    assert purged.purged_at is not None and purged.purged_at.tzinfo is not None
    assert purged.files == first.files and purged.digest == first.digest
    assert (purged.metrics, purged.tags, purged.lineage.run_id) == ({"auc": 0.9}, {"team": "risk"}, "r1")
    assert reg.get_version("m/1") == purged
    assert [v.version for v in reg.list_versions("m")] == [2, 1]  # still listed, marked purged
    assert reg.get_version("m/2").lineage.parents == ("m/1",)
    assert [s.stage for s in reg.stage_history("m/1")] == ["archived"]
    assert [c.version for c in reg.alias_history("m", "c")] == [1, 2]
    for ref in ("m/1", f"m@{first.digest}"):
        with pytest.raises(errors.VersionPurged) as caught:
            reg.pull(ref, dest=tmp_path / "out")
        assert caught.value.code == "VERSION_PURGED" and caught.value.http_status == 410
    assert not (tmp_path / "out").exists()
    with pytest.raises(errors.VersionPurged):
        reg.purge_version("m/1")  # already purged
    for change in (lambda: reg.set_alias("m", "c", 1), lambda: reg.set_stage("m/1", "production")):
        with pytest.raises(errors.VersionPurged):
            change()
    reg.set_tag("m/1", "note", "purged by hand")  # metadata stays writable
    assert reg.get_version("m/1").tags == {"team": "risk", "note": "purged by hand"}
    assert tree_bytes(Path(reg.pull("m/2", dest=tmp_path / "v2"))) == tree_bytes(model_dir)


def test_purge_of_an_aliased_production_or_held_version_is_refused(
    reg: Client, model_dir: Path, database: str
) -> None:
    push_versions(reg, "m", model_dir, 4)
    reg.set_alias("m", "champion", 1)
    reg.set_stage("m/2", "production")
    hold = reg.set_hold("m/3", reason="case 2026-17")
    assert (hold.name, hold.version, hold.reason, hold.created_by) == ("m", 3, "case 2026-17", "alice")
    reg.set_alias("m", "shadow", 3)
    before = (audit_actions(database), [v.to_dict() for v in reg.list_versions("m")])
    expected = {"m/1": ["alias:champion"], "m/2": ["production"], "m/3": ["alias:shadow", "hold"]}
    for ref, reasons in expected.items():
        with pytest.raises(errors.VersionProtected) as caught:
            reg.purge_version(ref)
        assert caught.value.code == "VERSION_PROTECTED" and caught.value.details == {"reasons": reasons}
    with pytest.raises(errors.VersionProtected) as caught:
        reg.delete_version("m/3")  # a held version cannot be soft-deleted either
    assert caught.value.details == {"reasons": ["hold"]}
    assert (audit_actions(database), [v.to_dict() for v in reg.list_versions("m")]) == before
    reg.delete_alias("m", "shadow")
    reg.remove_hold("m/3")
    assert reg.purge_version("m/3").purged
    assert reg.purge_version("m/4").purged  # the latest: nothing protects it
    assert audit_actions(database)[-4:] == [
        "registry:alias:delete",
        "registry:hold:remove",
        "registry:version:purge",
        "registry:version:purge",
    ]


def test_holds_are_set_reworded_listed_and_removed(reg: Client, model_dir: Path, database: str) -> None:
    push_versions(reg, "m", model_dir, 2)
    push_versions(reg, "n", model_dir, 1)
    reg.set_hold("m/1", reason="litigation")
    reg.set_hold("n/1")
    reworded = reg.set_hold("m@" + reg.get_version("m/1").digest, reason="litigation, case 7")
    assert (reworded.version, reworded.reason) == (1, "litigation, case 7")
    assert [(h.name, h.version, h.reason) for h in reg.list_holds()] == [
        ("m", 1, "litigation, case 7"),
        ("n", 1, ""),
    ]
    assert [h.version for h in reg.list_holds("n")] == [1]
    reg.remove_hold("m/1")
    with pytest.raises(errors.HoldNotFound) as caught:
        reg.remove_hold("m/1")
    assert caught.value.code == "HOLD_NOT_FOUND"
    assert [h.name for h in reg.list_holds()] == ["n"]
    reg.purge_version("m/2")
    with pytest.raises(errors.VersionPurged):
        reg.set_hold("m/2", reason="too late")
    assert audit_actions(database).count("registry:hold:set") == 3
    assert audit_actions(database).count("registry:hold:remove") == 1


def test_hold_and_purge_bad_input_changes_nothing(reg: Client, model_dir: Path, database: str) -> None:
    push_versions(reg, "m", model_dir, 1)
    before = audit_actions(database)
    bad: list[tuple[Any, type[errors.ModelregError]]] = [
        (lambda: reg.set_hold("m/1", reason="x" * 1001), errors.InvalidInput),
        (lambda: reg.set_hold("m/1", reason="line\nbreak"), errors.InvalidInput),
        (lambda: reg.set_hold("m/1", reason=7), errors.InvalidInput),  # type: ignore[arg-type]
        (lambda: reg.set_hold("m/9"), errors.VersionNotFound),
        (lambda: reg.set_hold("nope/1"), errors.ModelNotFound),
        (lambda: reg.set_hold("bad name/1"), errors.InvalidReference),
        (lambda: reg.remove_hold("m/1"), errors.HoldNotFound),
        (lambda: reg.list_holds("nope"), errors.ModelNotFound),
        (lambda: reg.list_holds("a b"), errors.InvalidName),
        (lambda: reg.purge_version("m/2"), errors.VersionNotFound),
        (lambda: reg.purge_version("m@nope"), errors.AliasNotFound),
        (lambda: reg.purge_version("../x"), errors.InvalidReference),
    ]
    for call, error in bad:
        with pytest.raises(error):
            call()
    assert audit_actions(database) == before
    assert reg.list_holds() == [] and not reg.get_version("m/1").purged


def test_retention_policies_are_set_shown_and_removed(reg: Client, model_dir: Path, database: str) -> None:
    push_versions(reg, "m", model_dir, 1)
    assert reg.list_retention_policies() == []
    everywhere = reg.set_retention_policy(keep_last=5)
    assert (everywhere.name, everywhere.keep_last, everywhere.archived_days) == (None, 5, None)
    own = reg.set_retention_policy("m", archived_days=30)
    assert (own.name, own.keep_last, own.archived_days, own.updated_by) == ("m", None, 30, "alice")
    reg.set_retention_policy(keep_last=3, archived_days=0, deleted_days=7)
    exempt = reg.set_retention_policy("m")  # every rule off: the model is exempt
    assert (exempt.keep_last, exempt.archived_days, exempt.deleted_days) == (None, None, None)
    listed = reg.list_retention_policies()
    assert [(p.name, p.keep_last, p.archived_days, p.deleted_days) for p in listed] == [
        (None, 3, 0, 7),
        ("m", None, None, None),
    ]
    reg.delete_retention_policy("m")
    with pytest.raises(errors.RetentionPolicyNotFound) as caught:
        reg.delete_retention_policy("m")
    assert caught.value.code == "RETENTION_POLICY_NOT_FOUND"
    reg.delete_retention_policy()
    with pytest.raises(errors.RetentionPolicyNotFound):
        reg.delete_retention_policy()
    assert reg.list_retention_policies() == []
    actions = audit_actions(database)
    assert actions.count("registry:retention:set") == 4 and actions.count("registry:retention:delete") == 2


@pytest.mark.parametrize(
    ("name", "rules", "error"),
    [
        (None, {}, errors.InvalidInput),  # a global policy with no rule
        (None, {"keep_last": 0}, errors.InvalidInput),
        (None, {"keep_last": -1}, errors.InvalidInput),
        (None, {"keep_last": True}, errors.InvalidInput),
        (None, {"keep_last": "3"}, errors.InvalidInput),
        (None, {"keep_last": 2.5}, errors.InvalidInput),
        (None, {"keep_last": 10**12}, errors.InvalidInput),
        (None, {"archived_days": -1}, errors.InvalidInput),
        (None, {"archived_days": 36_501}, errors.InvalidInput),
        (None, {"deleted_days": -1}, errors.InvalidInput),
        (None, {"deleted_days": "30"}, errors.InvalidInput),
        (None, {"deleted_days": 36_501}, errors.InvalidInput),
        ("nope", {"keep_last": 1}, errors.ModelNotFound),
        ("a b", {"keep_last": 1}, errors.InvalidName),
    ],
)
def test_bad_retention_policies_are_refused_and_change_nothing(  # noqa: PLR0917 - pytest passes fixtures
    reg: Client, model_dir: Path, database: str, name: str | None, rules: dict[str, Any], error: type
) -> None:
    push_versions(reg, "m", model_dir, 1)
    reg.set_retention_policy("m", keep_last=2)
    before = (audit_actions(database), reg.list_retention_policies())
    with pytest.raises(error):
        reg.set_retention_policy(name, **rules)
    assert (audit_actions(database), reg.list_retention_policies()) == before
    for bad_name, bad_error in (("nope", errors.ModelNotFound), ("a b", errors.InvalidName)):
        with pytest.raises(bad_error):
            reg.delete_retention_policy(bad_name)
        with pytest.raises(bad_error):
            reg.apply_retention(bad_name)
    with pytest.raises(errors.InvalidInput):
        reg.apply_retention(apply="yes")  # type: ignore[arg-type]


def retention_scene(reg: Client, model_dir: Path) -> None:
    """m: 6 versions under the global keep_last=2 (v1 @champion, v2 production, v3 held, v4 deleted);
    other: 3 versions whose own policy (archived_days=0) replaces the global one (v2 archived)."""
    push_versions(reg, "m", model_dir, 6)
    reg.set_alias("m", "champion", 1)
    reg.set_stage("m/2", "production")
    reg.set_hold("m/3", reason="audit")
    reg.delete_version("m/4")
    push_versions(reg, "other", model_dir, 3)
    reg.set_stage("other/2", "archived")
    reg.set_retention_policy(keep_last=2)
    reg.set_retention_policy("other", archived_days=0)


EXPECTED_PURGE = [
    RetentionCandidate("m", 4, ("keep_last",), (), 0),
    RetentionCandidate("other", 2, ("archived_days",), (), 0),
]
EXPECTED_PROTECTED = [
    RetentionCandidate("m", 1, ("keep_last",), ("alias:champion",), 0),
    RetentionCandidate("m", 2, ("keep_last",), ("production",), 0),
    RetentionCandidate("m", 3, ("keep_last",), ("hold",), 0),
]


def sizeless(candidates: tuple[RetentionCandidate, ...]) -> list[RetentionCandidate]:
    return [RetentionCandidate(c.name, c.version, c.rules, c.protected_by, 0) for c in candidates]


def test_a_dry_run_changes_nothing_and_apply_purges_exactly_the_selection(
    reg: Client, model_dir: Path, database: str, storage_url: str
) -> None:
    retention_scene(reg, model_dir)
    chunks = Path(storage_url.removeprefix("file://"))
    before = state(reg, database, chunks)
    dry = reg.apply_retention()
    assert state(reg, database, chunks) == before
    assert dry.applied is False
    assert (sizeless(dry.purge), sizeless(dry.protected)) == (EXPECTED_PURGE, EXPECTED_PROTECTED)
    assert all(c.size_bytes > 3_000_000 for c in dry.purge + dry.protected)
    assert reg.apply_retention("m").purge == dry.purge[:1]  # a dry run of one model
    applied = reg.apply_retention(apply=True)
    assert (applied.applied, applied.purge, applied.protected) == (True, dry.purge, dry.protected)
    purged = {v.ref for m in ("m", "other") for v in reg.list_versions(m, include_deleted=True) if v.purged}
    assert purged == {"m/4", "other/2"}
    assert audit_actions(database)[-2:] == ["registry:version:purge", "registry:version:purge"]
    again = reg.apply_retention(apply=True)  # nothing left to purge; the protected stay protected
    assert (again.purge, sizeless(again.protected)) == ((), EXPECTED_PROTECTED)
    assert audit_actions(database)[-2:] == ["registry:version:purge", "registry:version:purge"]


def test_gc_after_purge_reclaims_unshared_chunks_and_the_rest_still_pulls(
    reg: Client, tmp_path: Path, database: str, storage_url: str
) -> None:
    shared, unique, later = os.urandom(200_000), os.urandom(200_000), os.urandom(200_000)
    for number, files in enumerate(({"a.bin": shared, "b.bin": unique}, {"a.bin": shared, "c.bin": later})):
        source = tmp_path / f"src{number}"
        source.mkdir()
        for path, data in files.items():
            (source / path).write_bytes(data)
        reg.push("m", source)
    v1 = reg.get_version("m/1")
    digests = {entry.path: entry.digest for entry in v1.files}
    reg.purge_version("m/1")
    # The purged version's own file is no longer offered to pushes; the shared one still is.
    known = reg._backend.known_files(list(digests.values()))
    assert set(known) == {digests["a.bin"]}
    metadata, chunks = open_stores(database, storage=storage_url)
    collector = Registry(metadata, chunks, actor=Actor("root"), gc_grace_seconds=0)
    report = collector.collect_garbage(apply=True)
    assert (report.deleted_chunks, report.deleted_bytes, report.missing_chunks) == (1, 200_000, 0)
    assert collector.collect_garbage().reclaimable_chunks == 0
    metadata.close()
    pulled = Path(reg.pull("m/2", dest=tmp_path / "v2"))
    assert tree_bytes(pulled) == tree_bytes(tmp_path / "src1")
    with pytest.raises(errors.VersionPurged):
        reg.pull("m/1", dest=tmp_path / "v1")
    again = reg.push("m", tmp_path / "src0")  # the purged content, pushed anew, is stored again
    assert again.digest == v1.digest and not again.purged
    assert tree_bytes(Path(reg.pull("m/3", dest=tmp_path / "v3"))) == tree_bytes(tmp_path / "src0")


def test_alias_and_stage_changes_racing_a_purge_never_land_on_a_purged_version(
    reg: Client, model_dir: Path
) -> None:
    rounds = 6
    push_versions(reg, "m", model_dir, rounds + 1)
    outcomes: list[str] = []

    def attempt(call: Any) -> None:
        try:
            call()
            outcomes.append("ok")
        except (errors.VersionPurged, errors.VersionProtected) as error:
            outcomes.append(error.code)

    for number in range(1, rounds + 1):
        ref = f"m/{number}"
        change = (
            (lambda n=number: reg.set_alias("m", f"a{n}", n))
            if number % 2
            else (lambda r=ref: reg.set_stage(r, "production"))
        )
        threads = [
            threading.Thread(target=attempt, args=(lambda r=ref: reg.purge_version(r),)),
            threading.Thread(target=attempt, args=(change,)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert outcomes.count("ok") == rounds  # exactly one of each pair won
    for version in reg.list_versions("m", include_deleted=True):
        if version.purged:
            assert version.aliases == () and version.stage != "production"
        else:
            assert version.aliases or version.stage == "production" or version.version == rounds + 1
