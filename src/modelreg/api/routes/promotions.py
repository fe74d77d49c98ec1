"""Governed promotion: requests, approvals, rollback, and the promotion policy (``registry/promotion.py``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from modelreg.api.auth import CallerRegistry
from modelreg.api.responses import ERRORS, answers, items, one
from modelreg.api.schemas import (
    PolicyBody,
    PromotionBody,
    PromotionDecisionBody,
    PromotionList,
    RollbackBody,
)
from modelreg.types import PolicyDocument, Promotion

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["promotions"], responses=ERRORS)

RequestId = Annotated[int, Path(description="The promotion request's id.")]


@router.post("/promotions", **answers(Promotion, description="The request: applied, or pending approvals."))
def request_promotion(registry: CallerRegistry, body: PromotionBody) -> Response:
    """Ask to move a version to a stage or an alias (promotion:request). The policy's checks run first:
    409 POLICY_CHECK_FAILED lists every failed check in details.failed. With no approvals required the move
    is applied at once."""
    return one(registry.request_promotion(body.ref, to=body.to, comment=body.comment))


@router.get("/promotions", **answers(PromotionList))
def list_promotions(
    registry: CallerRegistry,
    name: Annotated[str | None, Query(description="Only this model's requests.")] = None,
    status: Annotated[
        str | None, Query(description="pending, applied, rejected, cancelled or expired.")
    ] = None,
    limit: Annotated[int, Query(description="At most this many, newest first.")] = 100,
) -> Response:
    """Promotion requests, newest first: of the models the caller may read."""
    return items(registry.list_promotions(name, status=status, limit=limit))


@router.post("/promotions/rollback", **answers(Promotion))
def rollback(registry: CallerRegistry, body: RollbackBody) -> Response:
    """Move NAME@ALIAS back to its previous version: a promotion request of kind rollback, applied at once
    when no approvals are required or with `emergency` (promotion:emergency)."""
    return one(registry.rollback(body.ref, comment=body.comment, emergency=body.emergency))


@router.get("/promotions/{request_id}", **answers(Promotion))
def get_promotion(registry: CallerRegistry, request_id: RequestId) -> Response:
    """One promotion request with its approvals; a pending one past its expiry shows as expired."""
    return one(registry.get_promotion(request_id))


@router.post("/promotions/{request_id}/approve", **answers(Promotion))
def approve(registry: CallerRegistry, request_id: RequestId, body: PromotionDecisionBody) -> Response:
    """Approve someone else's request (promotion:approve). 403 SEPARATION_OF_DUTIES for one's own, 409
    ALREADY_APPROVED twice, PROMOTION_EXPIRED / PROMOTION_CLOSED when it is over. The last required approval
    re-checks the policy and applies the move; a failed check (409 POLICY_CHECK_FAILED) changes nothing."""
    return one(registry.approve(request_id, comment=body.comment))


@router.post("/promotions/{request_id}/reject", **answers(Promotion))
def reject(registry: CallerRegistry, request_id: RequestId, body: PromotionDecisionBody) -> Response:
    """Reject someone else's pending request (promotion:approve): final."""
    return one(registry.reject(request_id, comment=body.comment))


@router.post("/promotions/{request_id}/cancel", **answers(Promotion))
def cancel(registry: CallerRegistry, request_id: RequestId, body: PromotionDecisionBody) -> Response:
    """Withdraw one's own pending request (promotion:request; admins may cancel any): final."""
    return one(registry.cancel(request_id, comment=body.comment))


@router.get("/policy", **answers(PolicyDocument))
def get_policy(registry: CallerRegistry) -> Response:
    """The promotion policy in force and its source: file, database or default (whole, to anyone who may
    read a model)."""
    return one(registry.get_policy())


@router.put("/policy", **answers(PolicyDocument))
def set_policy(registry: CallerRegistry, body: PolicyBody) -> Response:
    """Store the promotion policy (policy:admin). 400 INVALID_POLICY names the field and line; 409
    POLICY_FROM_FILE while the server reads its policy from MODELREG_POLICY_FILE."""
    return one(registry.set_policy(body.text))


@router.delete("/policy", status_code=204, response_class=Response)
def delete_policy(registry: CallerRegistry) -> Response:
    """Remove the stored promotion policy: the defaults apply again (policy:admin)."""
    registry.delete_policy()
    return Response(status_code=204)
