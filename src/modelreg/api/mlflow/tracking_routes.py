"""MLflow's tracking RPCs that registry flows touch: experiments, runs, logged models; and server-info."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["info_router", "router"]

router = APIRouter()
info_router = APIRouter()  # mounted under /api/3.0/mlflow: server-info
