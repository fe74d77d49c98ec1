"""Deployment rows: which version serves where, as intervals ``[started_at, ended_at)``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, or_, select, update

from modelreg.metadata import search
from modelreg.metadata.protocol import DeploymentRow
from modelreg.metadata.tables import deployments, models, versions

__all__ = ["DeploymentRows"]

_COLUMNS = (
    deployments.c.id,
    deployments.c.environment,
    deployments.c.endpoint,
    models.c.name,
    versions.c.number,
    deployments.c.version_id,
    deployments.c.digest,
    deployments.c.started_at,
    deployments.c.started_by,
    deployments.c.ended_at,
    deployments.c.ended_by,
)
_JOINED = deployments.join(models, models.c.id == deployments.c.model_id).join(
    versions, versions.c.id == deployments.c.version_id
)


class DeploymentRows:
    _c: Connection

    def open_deployment(self, model_id: int, environment: str, endpoint: str) -> DeploymentRow | None:
        query = (
            select(*_COLUMNS)
            .select_from(_JOINED)
            .where(
                deployments.c.model_id == model_id,
                deployments.c.environment == environment,
                deployments.c.endpoint == endpoint,
                deployments.c.ended_at.is_(None),
            )
        )
        row = self._c.execute(query).first()
        return None if row is None else _deployment(row)

    def start_deployment(
        self,
        *,
        model_id: int,
        version_id: int,
        digest: str,
        environment: str,
        endpoint: str,
        at: datetime,
        actor: str,
    ) -> int:
        values = {
            "environment": environment,
            "endpoint": endpoint,
            "model_id": model_id,
            "version_id": version_id,
            "digest": digest,
            "started_at": at,
            "started_by": actor,
        }
        inserted = self._c.execute(insert(deployments).values(**values)).inserted_primary_key
        assert inserted is not None  # a single-row INSERT always has one
        return int(inserted[0])

    def end_deployment(self, deployment_id: int, *, at: datetime, actor: str) -> None:
        statement = update(deployments).where(deployments.c.id == deployment_id)
        self._c.execute(statement.values(ended_at=at, ended_by=actor))

    def deployment(self, deployment_id: int) -> DeploymentRow:
        query = select(*_COLUMNS).select_from(_JOINED).where(deployments.c.id == deployment_id)
        return _deployment(self._c.execute(query).one())

    def deployments_at(
        self,
        *,
        at: datetime | None,
        environment: str | None,
        model_id: int | None,
        visible: Sequence[str] | None = None,
    ) -> list[DeploymentRow]:
        """Deployments serving at ``at`` (None: now, i.e. still open), by environment, model, endpoint."""
        query = select(*_COLUMNS).select_from(_JOINED)
        if at is None:
            query = query.where(deployments.c.ended_at.is_(None))
        else:
            query = query.where(
                deployments.c.started_at <= at,
                or_(deployments.c.ended_at.is_(None), deployments.c.ended_at > at),
            )
        if environment is not None:
            query = query.where(deployments.c.environment == environment)
        if model_id is not None:
            query = query.where(deployments.c.model_id == model_id)
        if visible is not None:  # access control: models the caller may read (modelreg.access)
            query = query.where(search.visible(models.c.name, visible, self._c.dialect.name))
        query = query.order_by(deployments.c.environment, models.c.name, deployments.c.endpoint)
        return [_deployment(row) for row in self._c.execute(query)]


def _deployment(row: Sequence[Any]) -> DeploymentRow:
    return DeploymentRow(*row)  # _COLUMNS are DeploymentRow's fields, in order
