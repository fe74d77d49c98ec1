"""MLflow's Model Registry RPCs (registered models, model versions, tags, aliases) over the registry.

All 22 of ``ModelRegistryService``: 13 on registered models (``registered_model_routes``: create, get,
update, rename, delete, search, get-latest-versions by GET and POST, set/delete tag, alias set/get/delete)
and 9 on versions (``model_version_routes``: create, get, update, delete, search, transition-stage,
get-download-uri, set/delete tag). Mounted by ``modelreg.api.mlflow.routers`` under ``/api/2.0/mlflow`` and
``/ajax-api/2.0/mlflow``.
"""

from __future__ import annotations

from fastapi import APIRouter

from modelreg.api.mlflow import model_version_routes, registered_model_routes

__all__ = ["router"]

router = APIRouter()
router.include_router(registered_model_routes.router)
router.include_router(model_version_routes.router)
