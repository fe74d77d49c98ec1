"""MLflow's Model Registry RPCs (registered models, model versions, tags, aliases) over the registry."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["router"]

router = APIRouter()
