"""Deployment records: which version (digest) serves where, written back by CI/CD and serving systems."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from modelreg.api.auth import CallerRegistry
from modelreg.api.responses import ERRORS, answers, items, one
from modelreg.api.schemas import DeploymentBody, DeploymentEndBody, DeploymentList
from modelreg.types import Deployment

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/deployments", tags=["deployments"], responses=ERRORS)


@router.post("", **answers(Deployment, description="The open record (new, or the one already serving)."))
def record_deployment(registry: CallerRegistry, body: DeploymentBody) -> Response:
    """Record that a version now serves an environment (deployment:write). The model's version recorded on
    the same environment and endpoint stops at that instant; recording the serving version again is a no-op,
    so a retried CI step is safe."""
    return one(registry.record_deployment(body.ref, environment=body.environment, endpoint=body.endpoint))


@router.post("/ended", **answers(Deployment, description="The closed record."))
def record_deployment_ended(registry: CallerRegistry, body: DeploymentEndBody) -> Response:
    """Record that a model no longer serves an environment (and endpoint); 404 if not recorded there."""
    return one(
        registry.record_deployment_ended(body.name, environment=body.environment, endpoint=body.endpoint)
    )


@router.get("", **answers(DeploymentList))
def deployments(
    registry: CallerRegistry,
    environment: Annotated[str | None, Query(description="Only this environment.")] = None,
    model: Annotated[str | None, Query(description="Only this model.")] = None,
    at: Annotated[
        str | None, Query(description="ISO 8601 time with a timezone; default: now (open records).")
    ] = None,
) -> Response:
    """Which model, version, digest and lineage (run, code, datasets) served where at instant `at`."""
    return items(registry.deployments(environment=environment, model=model, at=at))
