"""Rollback: move an alias back to the version it pointed to before its current one (from alias_history).

Governed like any move of a protected alias: it opens a promotion request of kind "rollback" for the
previous version, applied at once when the policy asks no approvals, else left pending for approvers.
Rollback requests skip the policy's metadata checks and metric gates: they restore a target that was
already in force, and a gate such as "not worse than production" would by construction refuse the very
version being restored. The existence checks stay: a deleted or purged previous version cannot come back.

``emergency=True`` (promotion:emergency) skips approvals too: the request is recorded and applied in the
same transaction, audited as ``registry:alias:rollback`` with ``emergency: true``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelreg.access import Permission
from modelreg.errors import AliasNotFound, InvalidInput, InvalidReference, VersionNotFound
from modelreg.metadata.protocol import MetadataSession, VersionKey
from modelreg.registry import promotion
from modelreg.registry.promotion_args import check_comment
from modelreg.registry.refs import parse_ref
from modelreg.types import Promotion

if TYPE_CHECKING:
    from modelreg.registry.service import Registry

__all__ = ["rollback"]


def rollback(registry: Registry, ref: str, *, comment: str | None, emergency: bool) -> Promotion:
    if not isinstance(emergency, bool):
        raise InvalidInput(f"emergency must be true or false, not {str(emergency)[:40]!r}")
    permission = Permission.PROMOTION_EMERGENCY if emergency else Permission.PROMOTION_REQUEST
    registry.actor.require(permission, model=parse_ref(ref).name)
    parsed = parse_ref(ref)
    if parsed.alias is None:
        raise InvalidReference(
            f"cannot roll back {str(ref)[:80]!r}: expected NAME@ALIAS, e.g. churn@champion"
        )
    text = check_comment(comment)
    with registry.metadata.session(write=True) as session:
        registry._model_id(session, parsed.name, lock=True)
        key = _previous(session, parsed.name, parsed.alias)
        return promotion.open_request(
            registry, session, key=key, target=f"@{parsed.alias}", comment=text, kind="rollback",
            emergency=emergency,
        )  # fmt: skip


def _previous(session: MetadataSession, name: str, alias: str) -> VersionKey:
    """The version the alias pointed to before its current target (skipping intervals on that same one)."""
    current = session.alias_key(name, alias)
    if current is None:
        raise AliasNotFound(f"alias {alias!r} of model {name!r} not found")
    earlier = [c for c in session.alias_history(current.model_id, alias) if c.until is not None]
    for change in reversed(earlier):
        if change.version != current.number:
            key = session.version_key(name, change.version)
            assert key is not None  # history keeps its versions: they are soft-deleted, never removed
            return key
    raise VersionNotFound(f"alias {alias!r} of model {name!r} has no previous version to roll back to")
