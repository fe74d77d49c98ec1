"""Storage statistics: logical and physical (deduplicated) bytes per model and in total (model:read)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from modelreg.api.auth import CallerRegistry
from modelreg.api.responses import ERRORS, answers, one
from modelreg.types import StorageStats

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/storage", tags=["storage"], responses=ERRORS)


@router.get("/stats", **answers(StorageStats))
def storage_stats(
    registry: CallerRegistry,
    name: Annotated[
        str | None, Query(description="Only this model (404 MODEL_NOT_FOUND if unknown).")
    ] = None,
) -> Response:
    """Logical bytes (Σ version sizes), physical bytes (each distinct chunk once) and the dedup ratio.

    Versions count while their content is kept: soft-deleted ones too, purged ones not. A chunk shared by two
    models counts in both rows but once in the total, so the rows may sum to more than the total.
    """
    return one(registry.storage_stats(name))
