"""Deployment records: CI/CD and serving systems write back which version (digest) serves where.

    record(ref, environment, endpoint)   the version starts serving; the model's open deployment on the same
                                         (environment, endpoint) ends at that instant (a replacement)
    ended(name, environment, endpoint)   the model stops serving there
    at(T)                                which versions served (which model, which digest, which data) at T

Recording the version that already serves is a no-op that returns the open record, so a retried CI step
writes nothing twice. Every change is audited (``registry:deployment:record``, ``registry:deployment:end``)
in its transaction.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING

from modelreg.access import Permission
from modelreg.errors import DeploymentNotFound, InvalidInput, VersionDeleted, VersionPurged
from modelreg.metadata.protocol import DeploymentRow, MetadataSession
from modelreg.registry.names import check_instant, check_model_name
from modelreg.registry.refs import parse_ref
from modelreg.types import Deployment, Lineage

if TYPE_CHECKING:
    from modelreg.registry.service import Registry

__all__ = ["check_endpoint", "check_environment", "ended", "listed", "record"]

_ENVIRONMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_MAX_ENDPOINT = 1024


def check_environment(environment: object) -> str:
    if not isinstance(environment, str) or not _ENVIRONMENT.fullmatch(environment):
        raise InvalidInput(
            f"invalid environment {str(environment)[:60]!r}: use 1 to 128 letters, digits, '.', '_', '-', "
            "starting with a letter or digit (e.g. prod-eu)"
        )
    return environment


def check_endpoint(endpoint: object) -> str:
    """'' for none; otherwise printable text (a URL, a service name) of at most 1,024 characters."""
    if endpoint is None:
        return ""
    if (
        not isinstance(endpoint, str)
        or not 0 < len(endpoint) <= _MAX_ENDPOINT
        or not endpoint.isprintable()
        or endpoint != endpoint.strip()
    ):
        raise InvalidInput(
            f"invalid endpoint {str(endpoint)[:60]!r}: expected printable text of 1 to {_MAX_ENDPOINT} "
            "characters without surrounding spaces"
        )
    return endpoint


def record(registry: Registry, ref: str, *, environment: str, endpoint: str | None) -> Deployment:
    where, address = check_environment(environment), check_endpoint(endpoint)
    parsed = parse_ref(ref)
    with registry.metadata.session(write=True) as session:
        model_id = registry._model_id(session, parsed.name, lock=True)
        key = registry._key(session, parsed)
        label = f"{parsed.name}/{key.number}"
        if key.deleted:
            raise VersionDeleted(f"version {label} is deleted; it cannot be recorded as deployed")
        if key.purged:
            raise VersionPurged(f"version {label} is purged: its files are gone")
        current = session.open_deployment(model_id, where, address)
        if current is not None and current.version_id == key.version_id:
            return _public(session, current)
        now = registry._now(None if current is None else current.started_at)
        if current is not None:
            session.end_deployment(current.id, at=now, actor=registry.actor.name)
        digest = session.version(key.version_id).digest
        started = session.start_deployment(
            model_id=model_id,
            version_id=key.version_id,
            digest=digest,
            environment=where,
            endpoint=address,
            at=now,
            actor=registry.actor.name,
        )
        registry._audit(
            session,
            now,
            "registry:deployment:record",
            parsed.name,
            _target(where, address, parsed.name),
            before=None if current is None else current.version,
            after=key.number,
            digest=digest,
        )
        return _public(session, session.deployment(started))


def ended(registry: Registry, name: str, *, environment: str, endpoint: str | None) -> Deployment:
    check_model_name(name)
    where, address = check_environment(environment), check_endpoint(endpoint)
    with registry.metadata.session(write=True) as session:
        model_id = registry._model_id(session, name, lock=True)
        current = session.open_deployment(model_id, where, address)
        if current is None:
            raise DeploymentNotFound(f"model {name!r} is not recorded as serving {_target(where, address)}")
        now = registry._now(current.started_at)
        session.end_deployment(current.id, at=now, actor=registry.actor.name)
        target = _target(where, address, name)
        registry._audit(
            session, now, "registry:deployment:end", name, target, before=current.version, after=None
        )
        return _public(session, session.deployment(current.id))


def listed(
    registry: Registry, *, environment: str | None, model: str | None, at: datetime | str | None
) -> list[Deployment]:
    where = None if environment is None else check_environment(environment)
    moment = None if at is None else check_instant(at)
    if model is not None:
        registry.actor.require(Permission.MODEL_READ, model=model)
    visible = registry.actor.scope(Permission.MODEL_READ)
    with registry.metadata.session() as session:
        model_id = None if model is None else registry._model_id(session, check_model_name(model))
        rows = session.deployments_at(at=moment, environment=where, model_id=model_id, visible=visible)
        ids = list(dict.fromkeys(row.version_id for row in rows))
        versions = session.versions(ids)
    lineage = {version_id: version.lineage for version_id, version in zip(ids, versions, strict=True)}
    return [_deployment(row, lineage[row.version_id]) for row in rows]


def _public(session: MetadataSession, row: DeploymentRow) -> Deployment:
    return _deployment(row, session.version(row.version_id).lineage)


def _deployment(row: DeploymentRow, lineage: Lineage) -> Deployment:
    return Deployment(
        id=row.id,
        environment=row.environment,
        endpoint=row.endpoint or None,
        name=row.name,
        version=row.version,
        digest=row.digest,
        started_at=row.started_at,
        started_by=row.started_by,
        ended_at=row.ended_at,
        ended_by=row.ended_by,
        lineage=lineage,
    )


def _target(environment: str, endpoint: str, name: str | None = None) -> str:
    place = environment if not endpoint else f"{environment} ({endpoint})"
    return place if name is None else f"{name} in {place}"
