"""Retention: legal holds, purges and retention policies (the rules: ``registry/retention.py``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from modelreg.api.auth import CallerRegistry
from modelreg.api.params import ModelName, VersionRef, model_name
from modelreg.api.responses import ERRORS, answers, items, one
from modelreg.api.schemas import HoldBody, HoldList, RetentionApplyBody, RetentionBody, RetentionList
from modelreg.types import LegalHold, ModelVersion, RetentionPolicy, RetentionReport

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["retention"], responses=ERRORS)

_VERSION = "/models/{name}/versions/{ref}"


@router.put(_VERSION + "/hold", **answers(LegalHold))
def set_hold(registry: CallerRegistry, ref: VersionRef, body: HoldBody) -> Response:
    """Put the version under legal hold (or re-word the reason): it can be neither purged nor deleted
    while held (version:hold)."""
    return one(registry.set_hold(ref, reason=body.reason))


@router.delete(_VERSION + "/hold", status_code=204, response_class=Response)
def remove_hold(registry: CallerRegistry, ref: VersionRef) -> Response:
    """Lift the version's legal hold; 404 HOLD_NOT_FOUND when it has none (version:hold)."""
    registry.remove_hold(ref)
    return Response(status_code=204)


@router.get("/holds", **answers(HoldList))
def list_holds(
    registry: CallerRegistry,
    name: Annotated[str | None, Query(description="Only this model's holds.")] = None,
) -> Response:
    """Every legal hold on the models the caller may read, by model and version."""
    return items(registry.list_holds(None if name is None else model_name(name)))


@router.post(_VERSION + "/purge", **answers(ModelVersion, description="The version, now purged."))
def purge_version(registry: CallerRegistry, ref: VersionRef) -> Response:
    """Purge the version's files; its metadata, lineage and history stay (retention:admin).

    409 VERSION_PROTECTED (details.reasons) when it holds an alias, is in production or is under legal
    hold; 410 VERSION_PURGED when it already is. The chunks go at the next applied garbage collection.
    """
    return one(registry.purge_version(ref))


@router.get("/retention", **answers(RetentionList))
def list_retention_policies(registry: CallerRegistry) -> Response:
    """The global retention policy (name null) first, then each model's own (of the models the caller may
    read)."""
    return items(registry.list_retention_policies())


@router.put("/retention", **answers(RetentionPolicy))
def set_global_retention(registry: CallerRegistry, body: RetentionBody) -> Response:
    """Set the global retention policy, replacing the previous one (retention:admin)."""
    return one(registry.set_retention_policy(None, **body.model_dump()))


@router.delete("/retention", status_code=204, response_class=Response)
def delete_global_retention(registry: CallerRegistry) -> Response:
    """Remove the global retention policy (retention:admin)."""
    registry.delete_retention_policy()
    return Response(status_code=204)


@router.put("/models/{name}/retention", **answers(RetentionPolicy))
def set_model_retention(registry: CallerRegistry, name: ModelName, body: RetentionBody) -> Response:
    """Set the model's own retention policy; it replaces the global one for this model (retention:admin)."""
    return one(registry.set_retention_policy(name, **body.model_dump()))


@router.delete("/models/{name}/retention", status_code=204, response_class=Response)
def delete_model_retention(registry: CallerRegistry, name: ModelName) -> Response:
    """Remove the model's own retention policy: the global one applies again (retention:admin)."""
    registry.delete_retention_policy(name)
    return Response(status_code=204)


@router.post("/retention/apply", **answers(RetentionReport))
def apply_retention(registry: CallerRegistry, body: RetentionApplyBody) -> Response:
    """What the policies select (one model, or all) and what protects the rest; a dry run unless `apply`
    is true, then the selected unprotected versions are purged (retention:admin)."""
    name = None if body.name is None else model_name(body.name)
    return one(registry.apply_retention(name, apply=body.apply))
