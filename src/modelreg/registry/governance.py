"""Governance use cases, mixed into ``Registry``: time travel, deployment records, the audit log, and
governed promotion with its policy (the logic lives in ``history``, ``deployments``, ``audit``,
``promotion``, ``rollback`` and ``policy_source``; these methods check permissions and delegate).
"""

from __future__ import annotations

from contextlib import closing
from datetime import datetime
from typing import TYPE_CHECKING, cast

from modelreg.access import Permission
from modelreg.registry import audit, deployments, history, policy_source, promotion, rollback
from modelreg.registry.names import check_instant
from modelreg.registry.paging import check_limit, decode_token, encode_token
from modelreg.registry.refs import model_of, parse_ref
from modelreg.types import (
    AuditEvent,
    AuditVerification,
    Deployment,
    ModelVersion,
    Page,
    PolicyDocument,
    Promotion,
)

if TYPE_CHECKING:
    from modelreg.registry.service import Registry

__all__ = ["GovernanceCases"]


class GovernanceCases:
    """Time travel, deployments, audit, promotion and policy, mixed into ``Registry`` (keeping its
    module under 500 lines)."""

    def resolve(self, ref: str, *, at: datetime | str | None = None) -> ModelVersion:
        """The version ``ref`` named at instant ``at`` (now when None), from the history tables; after '@'
        a stage name stands for the stage when the model has no alias of that name (``registry.history``)."""
        registry = _registry(self)
        registry.actor.require(Permission.MODEL_READ, model=model_of(ref))
        parsed = parse_ref(ref)
        moment = registry._clock() if at is None else check_instant(at)
        with registry.metadata.session() as session:
            current = None
            if parsed.version is not None or parsed.digest is not None:
                current = registry._key(session, parsed)
            return session.version(history.version_at(session, parsed, moment, current=current))

    def record_deployment(self, ref: str, *, environment: str, endpoint: str | None = None) -> Deployment:
        """Record that ``ref``'s version now serves ``environment`` (and ``endpoint``); the model's version
        recorded there before stops at the same instant. Recording the serving version again is a no-op."""
        registry = _registry(self)
        registry.actor.require(Permission.DEPLOYMENT_WRITE, model=model_of(ref))
        return deployments.record(registry, ref, environment=environment, endpoint=endpoint)

    def record_deployment_ended(
        self, name: str, *, environment: str, endpoint: str | None = None
    ) -> Deployment:
        """Record that model ``name`` no longer serves ``environment`` (and ``endpoint``)."""
        registry = _registry(self)
        registry.actor.require(Permission.DEPLOYMENT_WRITE, model=name)
        return deployments.ended(registry, name, environment=environment, endpoint=endpoint)

    def deployments(
        self,
        *,
        environment: str | None = None,
        model: str | None = None,
        at: datetime | str | None = None,
    ) -> list[Deployment]:
        """What served at instant ``at`` (None: now): model, version, digest and lineage (run, datasets)."""
        registry = _registry(self)
        registry.actor.require_somewhere(Permission.MODEL_READ)
        return deployments.listed(registry, environment=environment, model=model, at=at)

    def audit_events(
        self,
        *,
        actor: str | None = None,
        model: str | None = None,
        action: str | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        limit: int = 100,
        page_token: str | None = None,
    ) -> Page[AuditEvent]:
        """Audit events in sequence order, filtered (all conditions must hold; ``action`` may end in '*'
        to match a prefix; ``since`` inclusive, ``until`` exclusive)."""
        registry = _registry(self)
        registry.actor.require(Permission.AUDIT_READ)
        limit = check_limit(limit)
        fingerprint = ("audit_events", actor, model, action, str(since), str(until))
        after = decode_token(page_token, fingerprint)
        query = audit.check_query(
            actor=actor, model=model, action=action, since=since, until=until, after=after, limit=limit + 1
        )
        with registry.metadata.session() as session:
            records = session.audit_query(query)
        items = [audit.public_event(record) for record in records[:limit]]
        more = len(records) > limit
        return Page(items, encode_token(items[-1].seq, fingerprint) if more else None)

    def verify_audit(self, *, anchor: str | None = None) -> AuditVerification:
        """Recompute the whole chain (and, given ``SEQ:HASH`` from an earlier verification, check that event
        is unchanged); the result names the first bad sequence number."""
        registry = _registry(self)
        registry.actor.require(Permission.AUDIT_READ)
        verifier = audit.ChainVerifier()
        if anchor is not None:
            verifier.expect(*audit.parse_anchor(anchor))
        with registry.metadata.session(snapshot=True) as session:
            # The head is read first: events appended while this runs (after it) are not this check's.
            head = session.audit_chain_head()
            with closing(session.audit_chain(through=head[0])) as events:
                for event in events:
                    if not verifier.check(event):
                        break
        return verifier.finish(head=head)

    def request_promotion(self, ref: str, *, to: str, comment: str | None = None) -> Promotion:
        """Ask to move a version to a stage or '@alias'; applied at once when the policy wants no approval."""
        return promotion.request(_registry(self), ref, to=to, comment=comment)

    def approve(self, request_id: int, *, comment: str | None = None) -> Promotion:
        return promotion.approve(_registry(self), request_id, comment=comment)

    def reject(self, request_id: int, *, comment: str | None = None) -> Promotion:
        return promotion.reject(_registry(self), request_id, comment=comment)

    def cancel(self, request_id: int, *, comment: str | None = None) -> Promotion:
        return promotion.cancel(_registry(self), request_id, comment=comment)

    def get_promotion(self, request_id: int) -> Promotion:
        return promotion.get(_registry(self), request_id)

    def list_promotions(
        self, name: str | None = None, *, status: str | None = None, limit: int = 100
    ) -> list[Promotion]:
        return promotion.listed(_registry(self), name=name, status=status, limit=limit)

    def rollback(self, ref: str, *, comment: str | None = None, emergency: bool = False) -> Promotion:
        """Move NAME@ALIAS back to its previous version (``registry.rollback``)."""
        return rollback.rollback(_registry(self), ref, comment=comment, emergency=emergency)

    def get_policy(self) -> PolicyDocument:
        return policy_source.get_policy(_registry(self))

    def set_policy(self, text: str) -> PolicyDocument:
        return policy_source.set_policy(_registry(self), text)

    def delete_policy(self) -> None:
        policy_source.delete_policy(_registry(self))


def _registry(cases: GovernanceCases) -> Registry:
    return cast("Registry", cases)
