"""Moving a version into a governed target: the guard on direct moves, and applying a promotion request.

    guard_direct   a direct ``set_stage``/``set_alias``: refused (PERMISSION_DENIED, naming
                   ``request_promotion``) where the policy wants approvals, checked where it wants none
    guard_leave    taking a version out of a governed target without a promotion (deleting a protected
                   alias, moving a version out of production, deleting a version that holds either):
                   where the policy wants approvals for that target, only promotion:emergency may
    apply          a request's move, under the model's lock, with the history rows carrying its id and the
                   audit events, and the request closed as applied: one transaction
    move_stage     a stage move; entering production with ``archive`` moves the model's other production
                   versions to archived at the same instant, so readers never see zero or two of them

The caller holds the model's row lock (which every move of the model takes) and the write session.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from modelreg.access import Permission
from modelreg.errors import PermissionDenied, VersionDeleted, VersionPurged
from modelreg.metadata.protocol import MetadataSession, PromotionRow, VersionKey
from modelreg.registry import policy_checks
from modelreg.registry.policy import DEFAULT_POLICY, Requirements
from modelreg.types import ModelVersion

if TYPE_CHECKING:
    from modelreg.registry.service import Registry

__all__ = ["apply", "check", "check_live", "guard_direct", "guard_leave", "move_stage"]


def guard_direct(
    registry: Registry, session: MetadataSession, *, name: str, key: VersionKey, target: str
) -> bool:
    """Whether a direct move of ``key`` to ``target`` (a stage or '@alias') may happen; raises when the
    policy wants approvals or a check fails. True: archive the other production versions too. The default
    policy (none configured) keeps the historical direct move: no checks, no archiving."""
    policy = registry.policies.current(session)
    if policy is DEFAULT_POLICY:
        return False
    needs = policy.requirements(name, target)
    if not needs.governed:
        return False
    if needs.approvals:
        raise PermissionDenied(
            f"moving {name}/{key.number} to {target} needs {needs.approvals} approval(s): use "
            "request_promotion (modelreg promote) instead",
            details={"target": target, "approvals_required": needs.approvals, "use": "request_promotion"},
        )
    check(session, key.model_id, session.version(key.version_id), target, needs)
    return needs.archive_previous


def guard_leave(registry: Registry, session: MetadataSession, *, name: str, targets: list[str]) -> None:
    """Refuse to empty a governed target (a stage or '@alias') behind the policy's back: where it wants
    approvals for the target, only an actor with promotion:emergency may (the change is audited as usual).
    The governed way is a promotion of the replacement (which archives the previous production version)
    or a rollback."""
    policy = registry.policies.current(session)
    if policy is DEFAULT_POLICY or registry.actor.can(Permission.PROMOTION_EMERGENCY, model=name):
        return
    for target in targets:
        needs = policy.requirements(name, target)
        if needs.governed and needs.approvals:
            raise PermissionDenied(
                f"{name}: leaving {target} needs {needs.approvals} approval(s) under the policy: promote a "
                "replacement (request_promotion) or roll back; promotion:emergency can do it directly",
                details={"target": target, "approvals_required": needs.approvals, "use": "request_promotion"},
            )


def apply(
    registry: Registry, session: MetadataSession, row: PromotionRow, *, archive: bool, emergency: bool = False
) -> None:
    """Move the version (and archive, when asked) and close the request as applied: one transaction."""
    rid = row.id
    if row.target.startswith("@"):
        alias = row.target[1:]
        now = registry._now(session.alias_since(row.model_id, alias))
        previous = session.set_alias(
            row.model_id, alias, row.version_id, at=now, actor=registry.actor.name, request_id=rid
        )
        before = None if previous is None else session.version(previous).version
        action = "registry:alias:rollback" if row.kind == "rollback" else "registry:alias:set"
        extra = {"emergency": emergency, "comment": row.comment} if row.kind == "rollback" else {}
        target = f"{row.name}@{alias}"
        registry._audit(
            session, now, action, row.name, target, before=before, after=row.version, request_id=rid, **extra
        )
    else:
        key = VersionKey(row.model_id, row.version_id, row.version, deleted=False)
        now = move_stage(
            registry, session, name=row.name, key=key, stage=row.target, archive=archive, request_id=rid
        )
    note = "emergency rollback: approvals skipped" if emergency else ""
    session.close_promotion(rid, "applied", at=now, actor=registry.actor.name, comment=note)
    registry._audit(
        session, now, "registry:promotion:apply", row.name, f"promotion:{rid}",
        request_id=rid, version=row.version, to=row.target, emergency=emergency,
    )  # fmt: skip


def move_stage(
    registry: Registry,
    session: MetadataSession,
    *,
    name: str,
    key: VersionKey,
    stage: str,
    archive: bool,
    request_id: int | None = None,
) -> datetime:
    """Move ``key`` to ``stage``; with ``archive`` (staging or production) the model's other versions in
    that stage move to archived at the same instant, so time travel never finds zero or two production
    versions (staging: MLflow's ``archive_existing_versions``)."""
    others: list[int] = []
    if archive and stage in ("staging", "production"):
        others = [v for v in session.stage_versions(key.model_id, stage) if v != key.version_id]
    now = registry._now(session.stage_since(key.version_id), *(session.stage_since(v) for v in others))
    moves = [(v, session.version(v).version, "archived") for v in others] + [
        (key.version_id, key.number, stage)
    ]
    for version_id, number, to in moves:
        before = session.set_stage(version_id, to, at=now, actor=registry.actor.name, request_id=request_id)
        extra = {} if request_id is None else {"request_id": request_id}
        registry._audit(
            session, now, "registry:stage:set", name, f"{name}/{number}", before=before, after=to, **extra
        )
    return now


def check(
    session: MetadataSession, model_id: int, version: ModelVersion, target: str, needs: Requirements
) -> None:
    production = session.versions(session.stage_versions(model_id, "production")) if needs.gates else []
    policy_checks.raise_failures(version, target, policy_checks.failures(version, needs, production))


def check_live(version: ModelVersion) -> None:
    if version.purged:
        raise VersionPurged(f"version {version.ref} is purged: it cannot be promoted")
    if version.deleted:
        raise VersionDeleted(f"version {version.ref} is deleted: it cannot be promoted")
