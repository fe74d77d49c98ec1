"""The audit chain: every change appends an event, in the same transaction, hash-linked to the one before.

    hash(n) = sha256(prev_hash(n) ‖ canonical JSON of {seq, at, actor, action, model, target, data})

Editing, deleting or reordering any event breaks every hash after it; ``verify_chain`` finds the first break.
Actions are ``source:subject:action`` strings, e.g. ``registry:version:create``.

The database keeps the chain's head (last sequence number and hash) in its own row, updated with every
event, so a truncated tail is caught too. Against a wholesale rewrite (someone recomputing every hash) the
defence is an anchor: an auditor stores or signs a verified head elsewhere, and a later verification given
that anchor checks that the event with that number still has that hash. An export (JSON lines, one event
each with its chain fields) verifies offline with ``ChainVerifier`` alone.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from modelreg.errors import InvalidInput
from modelreg.metadata.protocol import AuditQuery, AuditRecord, MetadataSession
from modelreg.registry.manifest import canonical_json
from modelreg.registry.names import check_instant, check_model_name
from modelreg.types import AuditEvent, AuditVerification

# json's own string encoder (C), as json.dumps(..., ensure_ascii=False) uses it.
_string: Callable[[str], str] = json.encoder.encode_basestring

__all__ = [
    "GENESIS",
    "ChainVerifier",
    "check_query",
    "event_hash",
    "parse_anchor",
    "public_event",
    "record",
    "verify_chain",
    "verify_export",
]

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
    # The canonical JSON of {seq, at, actor, action, model, target, data} (sorted keys, no spaces, UTF-8),
    # spelled out: verification hashes every event, and this is ~3x faster than json.dumps of a dict.
    # tests/registry/test_audit.py checks it byte for byte against canonical_json.
    body = (
        f'{{"action":{_string(action)},"actor":{_string(actor)},"at":"{at.isoformat()}",'
        f'"data":{_string(data_json)},"model":{"null" if model is None else _string(model)},'
        f'"seq":{int(seq)},"target":{_string(target)}}}'
    )
    return hashlib.sha256(prev_hash.encode() + body.encode()).hexdigest()


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


_ACTION = re.compile(r"[a-z][a-z0-9_-]*(:[a-z0-9_-]+){0,2}(:\*|\*)?|\*")
_MAX_ACTOR = 255


def check_query(
    *,
    actor: object,
    model: object,
    action: object,
    since: object,
    until: object,
    after: int,
    limit: int,
) -> AuditQuery:
    """Validated audit filters: an action is ``source:subject:action``, or a prefix of one ending in '*'."""
    if actor is not None and not (isinstance(actor, str) and 0 < len(actor) <= _MAX_ACTOR):
        raise InvalidInput(f"invalid actor {str(actor)[:60]!r}: expected 1 to {_MAX_ACTOR} characters")
    if model is not None:
        check_model_name(model)
    if action is not None and not (isinstance(action, str) and _ACTION.fullmatch(action)):
        raise InvalidInput(
            f"invalid action {str(action)[:60]!r}: expected source:subject:action, e.g. registry:alias:set, "
            "or a prefix ending in '*' (registry:alias:*)"
        )
    first = None if since is None else check_instant(since, "since")
    last = None if until is None else check_instant(until, "until")
    return AuditQuery(
        after=after,
        limit=limit,
        actor=actor,
        model=model,  # type: ignore[arg-type]  # checked above
        action=action,
        since=first,
        until=last,
    )


def verify_chain(events: Iterable[AuditRecord], *, prev_hash: str = GENESIS, prev_seq: int = 0) -> int | None:
    """The sequence number of the first event that breaks the chain, or None when it is intact."""
    verifier = ChainVerifier(prev_hash=prev_hash, prev_seq=prev_seq)
    for event in events:
        if not verifier.check(event):
            break
    return verifier.first_bad_seq


class ChainVerifier:
    """Checks events one at a time, in order; stops at the first that is missing, altered or out of place.

    ``allow_gaps`` is for filtered exports: a missing range is counted instead of failing, and the event after
    it is checked against its own hash only (its link to the previous one cannot be).
    """

    def __init__(self, *, prev_hash: str = GENESIS, prev_seq: int = 0, allow_gaps: bool = False) -> None:
        self.head_seq, self.head_hash = prev_seq, prev_hash
        self.allow_gaps = allow_gaps
        self.events = 0
        self.gaps = 0
        self.first_bad_seq: int | None = None
        self.reason: str | None = None
        self._anchors: dict[int, str] = {}

    def expect(self, seq: int, hash: str) -> None:
        """Require the event numbered ``seq`` to carry ``hash`` (an anchor stored elsewhere)."""
        self._anchors[seq] = hash

    def check(self, event: AuditRecord) -> bool:
        """Accept the next event, or record why it is the first bad one (and refuse every later one)."""
        if self.first_bad_seq is not None:
            return False
        expected_seq = self.head_seq + 1
        linked = event.seq == expected_seq
        problem = self._problem(event, expected_seq, linked=linked)
        if problem is not None:
            return self._fail(*problem)
        self.gaps += not linked
        self.head_seq, self.head_hash = event.seq, event.hash
        self.events += 1
        return True

    def _problem(self, event: AuditRecord, expected_seq: int, *, linked: bool) -> tuple[int, str] | None:
        if event.seq < expected_seq:
            return expected_seq, f"event {event.seq} is out of order after event {self.head_seq}"
        if not linked and not self.allow_gaps:
            return expected_seq, f"event {expected_seq} is missing"
        if linked and event.prev_hash != self.head_hash:
            return event.seq, f"event {event.seq} does not link to event {self.head_seq}"
        if event.hash != _recomputed(event):
            return event.seq, f"event {event.seq} was altered: its hash does not match its fields"
        anchored = self._anchors.pop(event.seq, event.hash)
        if anchored != event.hash:
            return event.seq, f"event {event.seq} does not match the anchor {anchored}"
        return None

    def finish(self, *, head: tuple[int, str] | None = None) -> AuditVerification:
        """The verdict. ``head`` is the database's head row: events after the last one seen were truncated."""
        if self.first_bad_seq is None and head is not None and head != (self.head_seq, self.head_hash):
            if head[0] > self.head_seq:
                self._fail(self.head_seq + 1, f"events {self.head_seq + 1} to {head[0]} are missing")
            else:
                self._fail(head[0], f"the chain head (event {head[0]}) does not match the events")
        if self.first_bad_seq is None and self._anchors:
            missing = min(self._anchors)
            self._fail(missing, f"the anchored event {missing} is not in the chain")
        return AuditVerification(
            ok=self.first_bad_seq is None,
            events=self.events,
            first_bad_seq=self.first_bad_seq,
            reason=self.reason,
            head_seq=self.head_seq,
            head_hash=self.head_hash,
            gaps=self.gaps,
        )

    def _fail(self, seq: int, reason: str) -> bool:
        self.first_bad_seq, self.reason = seq, reason
        return False


def _recomputed(event: AuditRecord) -> str:
    return event_hash(
        event.prev_hash,
        seq=event.seq,
        at=event.at,
        actor=event.actor,
        action=event.action,
        model=event.model,
        target=event.target,
        data_json=event.data_json,
    )


def public_event(event: AuditRecord) -> AuditEvent:
    return AuditEvent(
        seq=event.seq,
        at=event.at,
        actor=event.actor,
        action=event.action,
        model=event.model,
        target=event.target,
        data=json.loads(event.data_json),
        prev_hash=event.prev_hash,
        hash=event.hash,
    )


_ANCHOR = re.compile(r"([0-9]{1,18}):([0-9a-f]{64})")


def parse_anchor(anchor: str) -> tuple[int, str]:
    """``SEQ:HASH`` (as ``modelreg audit verify`` prints the head) → (seq, hash)."""
    match = _ANCHOR.fullmatch(anchor.strip()) if isinstance(anchor, str) else None
    if match is None or int(match[1]) < 1:
        raise InvalidInput(f"invalid audit anchor {str(anchor)[:80]!r}: expected SEQ:HASH (64 hex digits)")
    return int(match[1]), match[2]


def verify_export(
    lines: Iterable[str], *, allow_gaps: bool = False, anchor: str | None = None
) -> AuditVerification:
    """Verify an exported chain (JSON lines as ``modelreg audit export`` writes them), with nothing else.

    The export must start at the first event (its ``prev_hash`` the genesis), or right after ``anchor`` (an
    export of the events after a head verified earlier), or anywhere when ``allow_gaps`` (a filtered export:
    each event's own hash is checked, and links only between consecutive events). An anchor inside the export
    must match. A line that is not an event is reported as the first bad one.
    """
    start = parse_anchor(anchor) if anchor is not None else None
    verifier = ChainVerifier(allow_gaps=allow_gaps)
    for line in lines:
        if not line.strip():
            continue
        event = _exported(line)
        if event is None:
            verifier._fail(
                verifier.head_seq + 1, f"line after event {verifier.head_seq} is not an audit event"
            )
            break
        if verifier.events == 0 and start is not None:
            if start[0] < event.seq:
                verifier.head_seq, verifier.head_hash = start
            else:
                verifier.expect(*start)
        if not verifier.check(event):
            break
    return verifier.finish()


def _exported(line: str) -> AuditRecord | None:
    try:
        item = json.loads(line)
        return AuditRecord(
            seq=int(item["seq"]),
            at=datetime.fromisoformat(item["at"]),
            actor=item["actor"],
            action=item["action"],
            model=item["model"],
            target=item["target"],
            data_json=canonical_json(item["data"]).decode(),
            prev_hash=item["prev_hash"],
            hash=item["hash"],
        )
    except (ValueError, KeyError, TypeError):
        return None
