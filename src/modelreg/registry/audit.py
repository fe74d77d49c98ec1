"""The audit chain: every change appends an event, in the same transaction, hash-linked to the one before.

    hash(n) = sha256(prev_hash(n) ‖ canonical JSON of {seq, at, actor, action, model, target, data})

Editing, deleting or reordering any event breaks every hash after it; ``verify_chain`` finds the first break.
Actions are ``source:subject:action`` strings, e.g. ``registry:version:create``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from modelreg.metadata.protocol import AuditRecord, MetadataSession
from modelreg.registry.manifest import canonical_json

__all__ = ["GENESIS", "event_hash", "record", "verify_chain"]

GENESIS = "0" * 64


def event_hash(
    prev_hash: str,
    *,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    model: str | None,
    target: str,
    data_json: str,
) -> str:
    body = canonical_json(
        {
            "seq": seq,
            "at": at.isoformat(),
            "actor": actor,
            "action": action,
            "model": model,
            "target": target,
            "data": data_json,
        }
    )
    return hashlib.sha256(prev_hash.encode() + body).hexdigest()


def record(
    session: MetadataSession,
    *,
    at: datetime,
    actor: str,
    action: str,
    model: str | None,
    target: str,
    data: dict[str, Any],
) -> AuditRecord:
    """Append one event. Takes the chain lock: call it last in a write session, just before commit."""
    seq, prev_hash, last_at = session.audit_head()
    if last_at is not None and last_at > at:
        at = last_at  # the chain's times never go backwards, whatever the writers' clocks say
    data_json = canonical_json(data).decode()
    digest = event_hash(
        prev_hash,
        seq=seq + 1,
        at=at,
        actor=actor,
        action=action,
        model=model,
        target=target,
        data_json=data_json,
    )
    event = AuditRecord(
        seq=seq + 1,
        at=at,
        actor=actor,
        action=action,
        model=model,
        target=target,
        data_json=data_json,
        prev_hash=prev_hash,
        hash=digest,
    )
    session.append_audit(event)
    return event


def verify_chain(events: Iterable[AuditRecord], *, prev_hash: str = GENESIS, prev_seq: int = 0) -> int | None:
    """The sequence number of the first event that breaks the chain, or None when it is intact."""
    for event in events:
        expected = event_hash(
            prev_hash,
            seq=event.seq,
            at=event.at,
            actor=event.actor,
            action=event.action,
            model=event.model,
            target=event.target,
            data_json=event.data_json,
        )
        if event.seq != prev_seq + 1 or event.prev_hash != prev_hash or event.hash != expected:
            return event.seq
        prev_hash, prev_seq = event.hash, event.seq
    return None
