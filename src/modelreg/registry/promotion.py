"""Governed promotion: requests, N-of-M approvals with separation of duties, and atomic application.

    request_promotion(ref, to)   checks the policy (every failed check listed) → a pending request;
                                 with 0 approvals required it is applied at once
    approve(id)                  another person's yes; the Nth one re-checks the policy with the policy in
                                 force and applies the request in the SAME transaction: if a check fails
                                 now, the call fails and nothing changes, not even the approval
    reject(id) / cancel(id)      final, like applied; a pending request past its expiry reads as expired,
                                 and the first approve/reject/cancel after that records the expiry

Applying (``registry.moves``) moves the stage (archiving the previous production versions when the policy
says so, the default) or the alias under the model's lock, writes history rows carrying the request id and
audit events, all in one transaction: readers see the old state or the new one, never zero or two
production versions. Every step is audited (``registry:promotion:request|approve|reject|cancel|apply|
expire``) with its comment.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from modelreg.access import Permission
from modelreg.errors import (
    AlreadyApproved,
    PermissionDenied,
    PromotionClosed,
    PromotionExpired,
    PromotionNotFound,
    SeparationOfDuties,
)
from modelreg.metadata.protocol import MetadataSession, PromotionRow, VersionKey
from modelreg.registry import moves
from modelreg.registry.names import check_model_name
from modelreg.registry.paging import check_limit
from modelreg.registry.policy import check_target
from modelreg.registry.promotion_args import check_comment, check_request_id, check_status
from modelreg.registry.refs import parse_ref
from modelreg.types import Approval, Promotion

if TYPE_CHECKING:
    from modelreg.registry.service import Registry

__all__ = [
    "approve",
    "cancel",
    "get",
    "listed",
    "open_request",
    "reject",
    "request",
]


def request(
    registry: Registry, ref: str, *, to: str, comment: str | None, kind: str = "promotion"
) -> Promotion:
    registry.actor.require(Permission.PROMOTION_REQUEST, model=parse_ref(ref).name)
    target, text, parsed = check_target(to), check_comment(comment), parse_ref(ref)
    with registry.metadata.session(write=True) as session:
        registry._model_id(session, parsed.name, lock=True)
        key = registry._key(session, parsed)
        return open_request(registry, session, key=key, target=target, comment=text, kind=kind)


def open_request(
    registry: Registry,
    session: MetadataSession,
    *,
    key: VersionKey,
    target: str,
    comment: str,
    kind: str,
    emergency: bool = False,
) -> Promotion:
    """Record a request for ``key`` (its model locked by the caller) and apply it when no approval is
    needed, or when ``emergency`` (a rollback by someone holding promotion:emergency)."""
    version = session.version(key.version_id)
    moves.check_live(version)
    needs = registry.policies.current(session).requirements(version.name, target)
    if kind == "promotion":
        moves.check(session, key.model_id, version, target, needs)
    now = registry._now()
    request_id = session.insert_promotion(
        model_id=key.model_id,
        version_id=key.version_id,
        target=target,
        kind=kind,
        comment=comment,
        approvals_required=needs.approvals,
        at=now,
        expires_at=now + timedelta(hours=needs.expires_hours),
        actor=registry.actor.name,
    )
    registry._audit(
        session, now, "registry:promotion:request", version.name, f"promotion:{request_id}",
        request_id=request_id, version=version.version, to=target, kind=kind, comment=comment,
        approvals_required=needs.approvals,
    )  # fmt: skip
    if needs.approvals == 0 or emergency:
        moves.apply(
            registry, session, _row(session, request_id), archive=needs.archive_previous, emergency=emergency
        )
    return _public(registry, session, request_id)


def approve(registry: Registry, request_id: int, *, comment: str | None) -> Promotion:
    registry.actor.require_somewhere(Permission.PROMOTION_APPROVE)  # on the request's model: below
    rid, text = check_request_id(request_id), check_comment(comment)
    with registry.metadata.session(write=True) as session:
        row = _locked(registry, session, rid)
        registry.actor.require(Permission.PROMOTION_APPROVE, model=row.name)
        if not _expired(registry, session, row):
            if row.requested_by == registry.actor.name:
                raise SeparationOfDuties(
                    f"{row.requested_by} requested promotion request {rid}: someone else must approve it",
                    details={"request_id": rid, "requested_by": row.requested_by},
                )
            now = registry._now()
            if not session.add_approval(rid, actor=registry.actor.name, at=now, comment=text):
                raise AlreadyApproved(f"{registry.actor.name} has already approved promotion request {rid}")
            registry._audit(
                session, now, "registry:promotion:approve", row.name, f"promotion:{rid}",
                request_id=rid, version=row.version, to=row.target, comment=text,
            )  # fmt: skip
            if len(session.approvals([rid])[rid]) >= row.approvals_required:
                needs = registry.policies.current(session).requirements(row.name, row.target)
                version = session.version(row.version_id)
                moves.check_live(version)
                if row.kind == "promotion":
                    moves.check(session, row.model_id, version, row.target, needs)
                moves.apply(registry, session, row, archive=needs.archive_previous)
            return _public(registry, session, rid)
    raise _expiry(row)


def reject(registry: Registry, request_id: int, *, comment: str | None) -> Promotion:
    registry.actor.require_somewhere(Permission.PROMOTION_APPROVE)  # on the request's model: in _close
    return _close(registry, request_id, comment, "rejected")


def cancel(registry: Registry, request_id: int, *, comment: str | None) -> Promotion:
    registry.actor.require_somewhere(Permission.PROMOTION_REQUEST)  # on the request's model: in _close
    return _close(registry, request_id, comment, "cancelled")


def get(registry: Registry, request_id: int) -> Promotion:
    registry.actor.require_somewhere(Permission.MODEL_READ)
    rid = check_request_id(request_id)
    with registry.metadata.session() as session:
        registry.actor.require(Permission.MODEL_READ, model=_row(session, rid).name)
        return _public(registry, session, rid)


def listed(registry: Registry, *, name: str | None, status: str | None, limit: int) -> list[Promotion]:
    if name is None:
        registry.actor.require_somewhere(Permission.MODEL_READ)
    else:
        registry.actor.require(Permission.MODEL_READ, model=name)
    visible = registry.actor.scope(Permission.MODEL_READ)  # filtered in SQL
    status = check_status(status)
    limit = check_limit(limit)
    with registry.metadata.session() as session:
        model_id = None if name is None else registry._model_id(session, check_model_name(name))
        rows = session.promotions(
            model_id=model_id, status=status, now=registry._clock(), limit=limit, after=0, visible=visible
        )
        approvals = session.approvals([row.id for row in rows])
    now = registry._clock()
    return [_promotion(row, approvals.get(row.id, []), now) for row in rows]


# Helpers -------------------------------------------------------------------------------------------------
def _close(registry: Registry, request_id: int, comment: str | None, status: str) -> Promotion:
    rid, text = check_request_id(request_id), check_comment(comment)
    with registry.metadata.session(write=True) as session:
        row = _locked(registry, session, rid)
        needed = Permission.PROMOTION_APPROVE if status == "rejected" else Permission.PROMOTION_REQUEST
        registry.actor.require(needed, model=row.name)
        if not _expired(registry, session, row):
            actor = registry.actor
            if status == "rejected" and row.requested_by == actor.name:
                raise SeparationOfDuties(
                    f"{actor.name} requested promotion request {rid}: cancel it instead of rejecting it",
                    details={"request_id": rid, "requested_by": row.requested_by},
                )
            if (
                status == "cancelled"
                and row.requested_by != actor.name
                and not actor.can(Permission.POLICY_ADMIN)
            ):
                raise PermissionDenied(
                    f"only {row.requested_by} (who requested promotion request {rid}) or an admin may "
                    "cancel it",
                    details={"permission": str(Permission.POLICY_ADMIN), "role": actor.role},
                )
            now = registry._now()
            session.close_promotion(rid, status, at=now, actor=actor.name, comment=text)
            action = "registry:promotion:" + ("reject" if status == "rejected" else "cancel")
            registry._audit(
                session, now, action, row.name, f"promotion:{rid}",
                request_id=rid, version=row.version, to=row.target, comment=text,
            )  # fmt: skip
            return _public(registry, session, rid)
    raise _expiry(row)


def _locked(registry: Registry, session: MetadataSession, rid: int) -> PromotionRow:
    """The request, read again under its model's lock (which every move of the model takes)."""
    registry._model_id(session, _row(session, rid).name, lock=True)
    row = _row(session, rid)
    if row.status not in ("pending", "expired"):
        raise PromotionClosed(
            f"promotion request {rid} is already {row.status}", details={"status": row.status}
        )
    return row


def _expired(registry: Registry, session: MetadataSession, row: PromotionRow) -> bool:
    """Whether the pending request is past its expiry; the first time, record that (and audit it)."""
    if row.status == "pending" and row.expires_at > registry._clock():
        return False
    if row.status == "pending":
        now = registry._now(row.expires_at)
        session.close_promotion(row.id, "expired", at=now, actor=registry.actor.name, comment="")
        registry._audit(
            session, now, "registry:promotion:expire", row.name, f"promotion:{row.id}",
            request_id=row.id, version=row.version, to=row.target, expires_at=row.expires_at.isoformat(),
        )  # fmt: skip
    return True


def _expiry(row: PromotionRow) -> PromotionExpired:
    return PromotionExpired(
        f"promotion request {row.id} expired at {row.expires_at.isoformat()}",
        details={"status": "expired", "expires_at": row.expires_at.isoformat()},
    )


def _row(session: MetadataSession, rid: int) -> PromotionRow:
    row = session.promotion(rid)
    if row is None:
        raise PromotionNotFound(f"promotion request {rid} not found")
    return row


def _public(registry: Registry, session: MetadataSession, rid: int) -> Promotion:
    return _promotion(_row(session, rid), session.approvals([rid]).get(rid, []), registry._clock())


def _promotion(row: PromotionRow, approvals: Sequence[Approval], now: datetime) -> Promotion:
    expired = row.status == "pending" and row.expires_at <= now
    return Promotion(
        id=row.id,
        name=row.name,
        version=row.version,
        target=row.target,
        kind=row.kind,
        status="expired" if expired else row.status,
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        comment=row.comment,
        expires_at=row.expires_at,
        approvals_required=row.approvals_required,
        approvals=tuple(approvals),
        closed_at=row.closed_at,
        closed_by=row.closed_by,
        closed_comment=row.closed_comment,
    )
