"""Retention, legal holds and purges: which versions' files may go, and the use cases that make them go.

    purge_version(ref)        explicit, one version            ┐ each: the model's row lock, the protections
    apply_retention(apply=…)  every version a policy selects   ┘ checked under it, mark purged + audit, commit

A purge keeps everything but the files: the version row (``purged_at``), its metadata, lineage, aliases'
and stages' history and manifest rows stay; it just stops being a garbage collection root, so the next
``gc --apply`` reclaims the chunks no other version shares. Pulling it fails with ``VERSION_PURGED``.

**Protected** versions are never purged, by retention or explicitly (``VERSION_PROTECTED``): one that holds
an alias, one in stage production, one under legal hold. A held version cannot be soft-deleted either (a
delete is what makes a version a retention candidate without any rule; a hold freezes the version as it is).
The checks run under the model's row lock, which ``set_alias`` and ``set_stage`` take too, and those refuse
a purged version: an alias or production can never end up on a purged version, whatever the interleaving.

**Policies.** A policy has three rules, any may be off: ``keep_last`` N keeps the N highest-numbered live
(neither deleted nor purged) versions and selects every version numbered below the N-th of them, deleted
ones included (a deleted version newer than that is kept: it is inside the window); ``archived_days`` D
selects versions that entered stage archived more than D days ago; ``deleted_days`` D selects versions
soft-deleted more than D days ago. A version is purged when a rule selects it and nothing protects it;
protected versions do not count against N. A model's own policy replaces the global one as a whole (a
model policy with every rule off exempts the model).

**Deleted models** are walked too, when retention runs over every model (``apply_retention()`` without a
name: a deleted model cannot be named). Deleting a model removes its own policy and deletes its versions,
so the global policy decides, and of its rules ``deleted_days`` is the one that selects: without it a deleted
model's files would stay for good. A deleted model is locked by its row, like a live one, so a revival in
the meantime only changes which name the report and the audit events carry.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from modelreg.access import Permission
from modelreg.errors import (
    HoldNotFound,
    InvalidInput,
    RetentionPolicyNotFound,
    VersionProtected,
    VersionPurged,
)
from modelreg.metadata.protocol import MetadataSession, VersionKey, VersionState
from modelreg.registry.names import check_model_name
from modelreg.registry.refs import Ref, parse_ref
from modelreg.types import LegalHold, ModelVersion, RetentionCandidate, RetentionPolicy, RetentionReport

if TYPE_CHECKING:
    from modelreg.registry.service import Registry

__all__ = [
    "MAX_ARCHIVED_DAYS",
    "MAX_KEEP_LAST",
    "MAX_REASON",
    "RetentionCases",
    "policy_rules",
    "protections",
]

MAX_KEEP_LAST = 1_000_000
MAX_ARCHIVED_DAYS = 36_500  # a century: beyond it a cutoff date is meaningless
MAX_REASON = 1000  # characters of a hold's reason (a case number, a ticket, a sentence)
# Purges per transaction of an apply: 1-4 ms each measured here (benchmarks/retention.py), so a commit
# waits for one batch for tens of ms. After each, the apply pauses as long as the batch took (at most
# _YIELD_SECONDS): SQLite's busy handler polls for the write lock at growing intervals (up to 100 ms), so
# without a pause a waiting commit kept missing the instants between batches (stalls of 4-7 s measured).
_PURGE_BATCH = 25
_YIELD_SECONDS = 0.1


def protections(aliases: tuple[str, ...], stage: str, *, held: bool) -> tuple[str, ...]:
    """Why a version may not be purged: "alias:NAME" for each alias, "production", "hold"."""
    return (
        *(f"alias:{alias}" for alias in aliases),
        *(("production",) if stage == "production" else ()),
        *(("hold",) if held else ()),
    )


class RetentionCases:
    """The use cases of this module, mixed into ``Registry`` (whose module would otherwise pass 500 lines).

    Each method checks its permission, then works on the registry it is part of."""

    # Legal holds ------------------------------------------------------------------------------------------
    def set_hold(self, ref: str, *, reason: str = "") -> LegalHold:
        """Place a legal hold on a version (or re-word an existing one's reason); audited."""
        registry = _registry(self)
        registry.actor.require(Permission.VERSION_HOLD, model=parse_ref(ref).name)
        text = _check_reason(reason)
        parsed = parse_ref(ref)
        with registry.metadata.session(write=True) as session:
            key = _locked_key(registry, session, parsed)
            if key.purged:
                raise VersionPurged(f"{_label(parsed, key)} is purged: there is nothing left to hold")
            now = registry._now()
            before = session.set_hold(key.version_id, text, at=now, actor=registry.actor.name)
            registry._audit(
                session, now, "registry:hold:set", parsed.name, _label(parsed, key), before=before, after=text
            )
            hold = session.hold(key.version_id)
        assert hold is not None
        return hold

    def remove_hold(self, ref: str) -> None:
        """Lift a version's legal hold; ``HoldNotFound`` when it has none. Audited."""
        registry = _registry(self)
        registry.actor.require(Permission.VERSION_HOLD, model=parse_ref(ref).name)
        parsed = parse_ref(ref)
        with registry.metadata.session(write=True) as session:
            key = _locked_key(registry, session, parsed)
            before = session.delete_hold(key.version_id)
            if before is None:
                raise HoldNotFound(f"{_label(parsed, key)} is not under legal hold")
            now = registry._now()
            registry._audit(
                session,
                now,
                "registry:hold:remove",
                parsed.name,
                _label(parsed, key),
                before=before,
                after=None,
            )

    def list_holds(self, name: str | None = None) -> list[LegalHold]:
        """Every legal hold (of one model, or of all), by model and version."""
        registry = _registry(self)
        if name is None:
            registry.actor.require_somewhere(Permission.MODEL_READ)
        else:
            registry.actor.require(Permission.MODEL_READ, model=name)
        visible = registry.actor.scope(Permission.MODEL_READ)  # filtered in SQL
        with registry.metadata.session() as session:
            model_id = None if name is None else registry._model_id(session, check_model_name(name))
            return session.holds(model_id, visible=visible)

    # Purges -----------------------------------------------------------------------------------------------
    def purge_version(self, ref: str) -> ModelVersion:
        """Purge one version's files now (see the module docstring); returns the version, marked purged."""
        registry = _registry(self)
        registry.actor.require(Permission.RETENTION_ADMIN, model=parse_ref(ref).name)
        parsed = parse_ref(ref)
        with registry.metadata.session(write=True) as session:
            key = _locked_key(registry, session, parsed)
            if key.purged:
                raise VersionPurged(f"{_label(parsed, key)} is already purged")
            version = session.version(key.version_id)
            reasons = protections(
                version.aliases, version.stage, held=session.hold(key.version_id) is not None
            )
            if reasons:
                raise VersionProtected(
                    f"{version.ref} cannot be purged: {_describe(reasons)}",
                    details={"reasons": list(reasons)},
                )
            _purge(registry, session, version.name, key.version_id, key.number, rules=())
            return session.version(key.version_id)

    # Policies ---------------------------------------------------------------------------------------------
    def list_retention_policies(self) -> list[RetentionPolicy]:
        """The global policy (if any) first, then each model's own, by name (of the models the caller may
        read)."""
        registry = _registry(self)
        registry.actor.require_somewhere(Permission.MODEL_READ)
        visible = registry.actor.scope(Permission.MODEL_READ)  # filtered in SQL
        with registry.metadata.session() as session:
            return session.retention_policies(visible=visible)

    def set_retention_policy(
        self,
        name: str | None = None,
        *,
        keep_last: int | None = None,
        archived_days: int | None = None,
        deleted_days: int | None = None,
    ) -> RetentionPolicy:
        """Set the global policy (``name`` None) or a model's own, replacing the previous one; audited."""
        registry = _registry(self)
        registry.actor.require(Permission.RETENTION_ADMIN, model=name)
        rules = {
            "keep_last": _check_rule("keep_last", keep_last, 1, MAX_KEEP_LAST),
            "archived_days": _check_rule("archived_days", archived_days, 0, MAX_ARCHIVED_DAYS),
            "deleted_days": _check_rule("deleted_days", deleted_days, 0, MAX_ARCHIVED_DAYS),
        }
        if name is None and all(value is None for value in rules.values()):
            raise InvalidInput(
                "a global retention policy needs keep_last, archived_days or deleted_days "
                "(to remove it, delete it)"
            )
        with registry.metadata.session(write=True) as session:
            model_id = _policy_owner(registry, session, name)
            before = session.retention_policy(model_id)
            now = registry._now()
            session.set_retention_policy(model_id, **rules, at=now, actor=registry.actor.name)
            registry._audit(
                session,
                now,
                "registry:retention:set",
                name,
                _scope(name),
                before=policy_rules(before),
                after=rules,
            )
            policy = session.retention_policy(model_id)
        assert policy is not None
        return policy

    def delete_retention_policy(self, name: str | None = None) -> None:
        """Remove the global policy (``name`` None) or a model's own; ``RetentionPolicyNotFound`` if none."""
        registry = _registry(self)
        registry.actor.require(Permission.RETENTION_ADMIN, model=name)
        with registry.metadata.session(write=True) as session:
            model_id = _policy_owner(registry, session, name)
            before = session.retention_policy(model_id)
            if before is None or not session.delete_retention_policy(model_id):
                whose = "there is no global retention policy" if name is None else f"model {name!r} has none"
                raise RetentionPolicyNotFound(f"no such retention policy: {whose}")
            now = registry._now()
            registry._audit(
                session,
                now,
                "registry:retention:delete",
                name,
                _scope(name),
                before=policy_rules(before),
                after=None,
            )

    def apply_retention(self, name: str | None = None, *, apply: bool = False) -> RetentionReport:
        """What the policies select, for one model or all; with ``apply`` the unprotected ones are purged.

        A dry run (the default) writes nothing. An apply works model by model, each in one transaction
        under the model's lock, deciding again there, so the report is exactly what was purged."""
        registry = _registry(self)
        registry.actor.require(Permission.RETENTION_ADMIN, model=name)
        if not isinstance(apply, bool):
            raise InvalidInput(f"apply must be true or false, not {str(apply)[:40]!r}")
        with registry.metadata.session() as session:
            if name is None:
                scope = session.retention_models(deleted=True)
            else:
                scope = [(registry._model_id(session, check_model_name(name)), name)]
            plans = {model_id: _select(registry, session, model_id, model) for model_id, model in scope}
        if apply:  # only models with something to purge take a lock; there the decision is made again
            for model_id, _ in scope:
                if any(not entry.candidate.protected_by for entry in plans[model_id]):
                    plans[model_id] = _apply(registry, model_id)
        candidates = [entry.candidate for plan in plans.values() for entry in plan]
        return RetentionReport(
            applied=apply,
            purge=tuple(c for c in candidates if not c.protected_by),
            protected=tuple(c for c in candidates if c.protected_by),
        )


@dataclass(frozen=True, slots=True)
class _Selected:
    state: VersionState
    candidate: RetentionCandidate


def _apply(registry: Registry, model_id: int) -> list[_Selected]:
    """Purge what the model's policy selects and nothing protects, deciding under the model's lock, in
    transactions of at most ``_PURGE_BATCH`` purges, with pauses between them: each holds the audit chain's
    lock, which every commit of every model waits for, so a first apply over years of versions stalls
    commits briefly, many times, rather than once for minutes. The last pass, which finds fewer to purge,
    reports the protected ones."""
    purged: list[_Selected] = []
    while True:
        started = time.monotonic()
        with registry.metadata.session(write=True) as session:
            name = session.lock_model_row(model_id)  # live or deleted: its name as of now
            selected = _select(registry, session, model_id, name)
            batch = [entry for entry in selected if not entry.candidate.protected_by][:_PURGE_BATCH]
            for entry in batch:
                state, rules = entry.state, entry.candidate.rules
                _purge(registry, session, name, state.version_id, state.number, rules=rules)
        purged.extend(batch)
        if len(batch) < _PURGE_BATCH:
            protected = [entry for entry in selected if entry.candidate.protected_by]
            return sorted(purged + protected, key=lambda entry: entry.state.number)
        time.sleep(min(time.monotonic() - started, _YIELD_SECONDS))  # let waiting writers in


def _select(registry: Registry, session: MetadataSession, model_id: int, name: str) -> list[_Selected]:
    """The model's versions its policy (its own, else the global one) selects, oldest first."""
    policy = session.retention_policy(model_id) or session.retention_policy(None)
    if policy is None:
        return []
    states = session.retention_states(model_id)  # newest first
    now = registry._clock()
    boundary = _boundary(policy, states)
    archived = _cutoff(policy.archived_days, now)
    deleted = _cutoff(policy.deleted_days, now)
    selected = []
    for state in reversed(states):
        rules = (
            *(("keep_last",) if boundary is not None and state.number < boundary else ()),
            *(("archived_days",) if _archived_before(state, archived) else ()),
            *(("deleted_days",) if _before(state.deleted_at, deleted) else ()),
        )
        if rules:
            reasons = protections(state.aliases, state.stage, held=state.held)
            candidate = RetentionCandidate(name, state.number, rules, reasons, state.size_bytes)
            selected.append(_Selected(state, candidate))
    return selected


def _boundary(policy: RetentionPolicy, states: list[VersionState]) -> int | None:
    """The number of the N-th newest live version, below which keep_last selects; None where the rule is
    off or selects nothing."""
    if policy.keep_last is None:
        return None
    live = [state.number for state in states if state.deleted_at is None]
    return live[policy.keep_last - 1] if len(live) > policy.keep_last else None


def _cutoff(days: int | None, now: datetime) -> datetime | None:
    """The time before which a rule of ``days`` selects; None where it is off."""
    return None if days is None else now - timedelta(days=days)


def _archived_before(state: VersionState, cutoff: datetime | None) -> bool:
    return state.stage == "archived" and _before(state.stage_since, cutoff)


def _before(moment: datetime | None, cutoff: datetime | None) -> bool:
    return cutoff is not None and moment is not None and moment < cutoff


def _purge(
    registry: Registry,
    session: MetadataSession,
    name: str,
    version_id: int,
    number: int,
    *,
    rules: tuple[str, ...],
) -> None:
    now = registry._now()
    session.mark_purged(version_id, at=now, actor=registry.actor.name)
    by = "retention" if rules else "explicit"
    registry._audit(
        session, now, "registry:version:purge", name, f"{name}/{number}", by=by, rules=list(rules)
    )


def _registry(cases: RetentionCases) -> Registry:
    return cast("Registry", cases)


def _locked_key(registry: Registry, session: MetadataSession, ref: Ref) -> VersionKey:
    registry._model_id(session, ref.name, lock=True)
    return registry._key(session, ref)


def _label(ref: Ref, key: VersionKey) -> str:
    return f"{ref.name}/{key.number}"


def _describe(reasons: tuple[str, ...]) -> str:
    words = {"production": "in production", "hold": "under legal hold"}
    return ", ".join(words.get(r, r.replace("alias:", "alias @")) for r in reasons)


def _policy_owner(registry: Registry, session: MetadataSession, name: str | None) -> int | None:
    """The model id a policy belongs to (its row locked: policy changes and applies take turns), or None."""
    if name is None:
        return None
    return registry._model_id(session, check_model_name(name), lock=True)


def _scope(name: str | None) -> str:
    return f"retention:{name or '*'}"


def policy_rules(policy: RetentionPolicy | None) -> dict[str, int | None] | None:
    """A policy's rules as its audit events record them (None: no policy)."""
    if policy is None:
        return None
    return {
        "keep_last": policy.keep_last,
        "archived_days": policy.archived_days,
        "deleted_days": policy.deleted_days,
    }


def _check_rule(field: str, value: Any, low: int, high: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"invalid {field} {str(value)[:40]!r}: expected an integer from {low} to {high}")
    return value


def _check_reason(reason: Any) -> str:
    if not isinstance(reason, str) or len(reason) > MAX_REASON or not reason.isprintable():
        raise InvalidInput(f"invalid hold reason: expected printable text of at most {MAX_REASON} characters")
    return reason
