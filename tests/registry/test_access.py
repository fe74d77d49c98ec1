"""Roles and tokens, checked inside the registry for every surface."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from modelreg import errors
from modelreg.access import ROLES, Actor, Permission
from modelreg.blobs.file import FileChunkStore
from modelreg.metadata.store import SqlMetadataStore
from modelreg.registry import tokens
from modelreg.registry.manifest import Manifest
from modelreg.registry.service import Registry


@pytest.fixture
def admin(database: str, tmp_path: Path) -> Iterator[Registry]:
    store = SqlMetadataStore(database)
    yield Registry(store, FileChunkStore(tmp_path / "chunks"), actor=Actor("root", role="admin"))
    store.close()


def test_role_vocabulary_is_nested() -> None:
    assert ROLES["viewer"] < ROLES["contributor"] < ROLES["admin"] == frozenset(Permission)
    assert ROLES["viewer"] < ROLES["approver"] < ROLES["admin"]
    assert Permission.PROMOTION_APPROVE not in ROLES["contributor"]  # separation of duties by default
    assert [str(p) for p in Permission] == sorted(str(p) for p in Permission)


def test_viewer_reads_but_cannot_write(admin: Registry) -> None:
    viewer = admin.as_actor(Actor("token:ro", role="viewer"))
    with pytest.raises(errors.ModelNotFound):
        viewer.get_model("m")  # allowed to read: the answer is just "not found"
    for call in (
        lambda: viewer.set_alias("m", "champion", 1),
        lambda: viewer.set_tag("m", "k", "v"),
        lambda: viewer.set_stage("m/1", "production"),
        lambda: viewer.missing_chunks([]),
        lambda: viewer.commit_version("m", Manifest(())),
        lambda: viewer.delete_version("m/1"),
        lambda: viewer.create_token("x", role="viewer"),
        lambda: viewer.record_deployment("m/1", environment="prod"),
        lambda: viewer.record_deployment_ended("m", environment="prod"),
    ):
        with pytest.raises(errors.PermissionDenied) as caught:
            call()
        assert caught.value.code == "PERMISSION_DENIED" and "token:ro (viewer) lacks" in caught.value.message


def test_contributor_cannot_delete_or_manage_tokens(admin: Registry) -> None:
    contributor = admin.as_actor(Actor("token:ci", role="contributor"))
    with pytest.raises(errors.PermissionDenied):
        contributor.delete_version("m/1")
    with pytest.raises(errors.PermissionDenied):
        contributor.list_tokens()
    for call in (contributor.verify_audit, contributor.audit_events):
        with pytest.raises(errors.PermissionDenied, match="audit:read"):
            call()


def test_token_lifecycle(admin: Registry) -> None:
    now = datetime.now(UTC)
    created = admin.create_token("ci", role="contributor", expires_at=now + timedelta(days=30))
    assert created.secret is not None and created.secret.startswith("mrt_") and len(created.secret) > 40
    assert (created.name, created.role, created.created_by) == ("ci", "contributor", "root")
    listed = admin.list_tokens()
    assert [(t.name, t.secret) for t in listed] == [("ci", None)]  # the secret is never shown again
    actor = tokens.authenticate(admin.metadata, created.secret, now=now)
    assert actor == Actor("token:ci", role="contributor")
    assert tokens.has_active_tokens(admin.metadata, now=now)
    with pytest.raises(errors.AuthenticationRequired):
        tokens.authenticate(admin.metadata, created.secret, now=now + timedelta(days=31))  # expired
    with pytest.raises(errors.AuthenticationRequired):
        tokens.authenticate(admin.metadata, created.secret + "x", now=now)
    with pytest.raises(errors.AuthenticationRequired):
        tokens.authenticate(admin.metadata, "Bearer nonsense", now=now)
    assert admin.revoke_token("ci") == 1
    with pytest.raises(errors.AuthenticationRequired):
        tokens.authenticate(admin.metadata, created.secret, now=now)
    assert not tokens.has_active_tokens(admin.metadata, now=now)
    with pytest.raises(errors.TokenNotFound):
        admin.revoke_token("ci")


def test_bad_token_requests(admin: Registry) -> None:
    with pytest.raises(errors.InvalidInput):
        admin.create_token("ci", role="superuser")
    with pytest.raises(errors.InvalidInput):
        admin.create_token("bad name", role="viewer")
    with pytest.raises(errors.InvalidInput):
        admin.create_token("ci", role="viewer", expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert admin.list_tokens() == []
