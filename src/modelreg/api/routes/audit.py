"""The audit log (audit:read): events filtered, and the chain verified on the server."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from modelreg.api.auth import CallerRegistry
from modelreg.api.responses import ERRORS, answers, one, page
from modelreg.api.schemas import AuditEventPage
from modelreg.types import AuditVerification

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/audit", tags=["audit"], responses=ERRORS)

_TIME = "ISO 8601 time with a timezone, e.g. 2026-03-01T12:00:00Z."


@router.get("/events", **answers(AuditEventPage))
def audit_events(
    registry: CallerRegistry,
    *,
    actor: Annotated[
        str | None, Query(description="Only this actor's events (a user or token:NAME).")
    ] = None,
    model: Annotated[str | None, Query(description="Only events about this model.")] = None,
    action: Annotated[
        str | None, Query(description="source:subject:action, or a prefix ending in '*' (registry:alias:*).")
    ] = None,
    since: Annotated[str | None, Query(description=f"Events at or after this time; {_TIME}")] = None,
    until: Annotated[str | None, Query(description=f"Events before this time; {_TIME}")] = None,
    limit: Annotated[int, Query(description="Page size, 1-1000.")] = 100,
    page_token: Annotated[str | None, Query(description="next_page_token of the previous page.")] = None,
) -> Response:
    """Audit events in sequence order, each with `prev_hash` and `hash` so that a copy verifies on its own."""
    return page(
        registry.audit_events(
            actor=actor,
            model=model,
            action=action,
            since=since,
            until=until,
            limit=limit,
            page_token=page_token,
        )
    )


@router.get("/verify", **answers(AuditVerification))
def verify_audit(
    registry: CallerRegistry,
    anchor: Annotated[
        str | None, Query(description="SEQ:HASH of a head verified earlier and kept elsewhere.")
    ] = None,
) -> Response:
    """Recompute the whole chain; `first_bad_seq` names the first missing, altered or reordered event."""
    return one(registry.verify_audit(anchor=anchor))
