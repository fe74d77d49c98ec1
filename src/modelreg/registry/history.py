"""Time travel: which version a reference named at a past instant, answered from the history tables.

    name@alias   the alias's interval covering the instant (alias_history)
    name@stage   when the model never had an alias of that name and it is a stage (staging, production,
                 archived): the version in that stage at the instant, the one that entered it last if several
    name         the highest version that existed and was not deleted at the instant
    name/3, name@sha256:…   that version, if it had been created by the instant

The answer is the version as it is now (tags and description may have changed since); what moved when is in
``alias_history`` and ``stage_history``.
"""

from __future__ import annotations

from datetime import datetime

from modelreg.errors import AliasNotFound, ModelNotFound, VersionNotFound
from modelreg.metadata.protocol import MetadataSession, VersionKey
from modelreg.registry.refs import Ref
from modelreg.types import STAGES

__all__ = ["version_at"]

_STAGE_ALIASES = frozenset(STAGES) - {"none"}


def version_at(session: MetadataSession, ref: Ref, at: datetime, *, current: VersionKey | None) -> int:
    """The id of the version ``ref`` named at ``at``. ``current`` is its present resolution, for pinned
    references (number, digest), or None when there is none."""
    model_id = session.model_id(ref.name)
    if model_id is None:
        raise ModelNotFound(f"model {ref.name!r} not found")
    when = at.isoformat()
    if ref.alias is not None:
        return _alias_at(session, model_id, ref, at, when)
    if ref.version is None and ref.digest is None:
        found = session.latest_at(model_id, at)
        if found is None:
            raise VersionNotFound(f"model {ref.name!r} had no live versions at {when}")
        return found
    if current is None or session.version_created_at(current.version_id) > at:
        raise VersionNotFound(f"{_label(ref)} did not exist at {when}")
    return current.version_id


def _alias_at(session: MetadataSession, model_id: int, ref: Ref, at: datetime, when: str) -> int:
    assert ref.alias is not None
    found = session.alias_target_at(model_id, ref.alias, at)
    if found is not None:
        return found
    if session.alias_ever_set(model_id, ref.alias) or ref.alias not in _STAGE_ALIASES:
        raise AliasNotFound(f"alias {ref.alias!r} of model {ref.name!r} pointed to no version at {when}")
    found = session.stage_holder_at(model_id, ref.alias, at)
    if found is None:
        raise VersionNotFound(f"no version of model {ref.name!r} was in stage {ref.alias} at {when}")
    return found


def _label(ref: Ref) -> str:
    return f"{ref.name}/{ref.version}" if ref.version is not None else f"{ref.name}@{ref.digest}"
