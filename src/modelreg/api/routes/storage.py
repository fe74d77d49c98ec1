"""Storage administration (admins): garbage collection of the chunk store."""

from __future__ import annotations

from fastapi import APIRouter, Response

from modelreg.api.auth import CallerRegistry
from modelreg.api.responses import ERRORS, answers, one
from modelreg.api.schemas import GcBody
from modelreg.types import GcReport

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/admin", tags=["storage"], responses=ERRORS)


@router.post("/gc", **answers(GcReport, description="What was found and, with apply, deleted."))
def collect_garbage(registry: CallerRegistry, body: GcBody) -> Response:
    """Mark-and-sweep the chunk store from every version; a dry run unless `apply` is true (storage:admin).

    Safe while pushes run: chunks of versions, chunks a client was told are present, and chunks written
    within the server's grace period are kept. An applied collection may take minutes on a large store.
    """
    return one(registry.collect_garbage(apply=body.apply))
