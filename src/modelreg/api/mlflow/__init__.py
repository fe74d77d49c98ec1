"""MLflow's REST surface over the same registry: MLflow's own client works unchanged against modelreg.

    registry_routes   the 22 Model Registry RPCs (registered models, versions, tags, aliases)
    tracking_routes   the tracking subset registry flows touch (experiments, runs, logged models)
    artifact_routes   the artifact proxy (/api/2.0/mlflow-artifacts/artifacts/…), chunks in our store
                      and GET /api/3.0/mlflow/server-info

Each RPC is mounted under ``/api/2.0/mlflow`` and again under ``/ajax-api/2.0/mlflow`` (MLflow's UI), as
MLflow's server does. Routes translate MLflow JSON to registry calls and back, nothing else: authorisation
and audit happen in the registry use cases, exactly as for ``/api/v1``. Errors render in MLflow's shape
(``modelreg.api.mlflow.errors``) on every path under ``ERROR_PREFIXES``.

The routers are built by ``routers()``, not at import: ``modelreg.api.errors`` needs this package's
prefixes, and the route modules need ``modelreg.api`` modules that import ``modelreg.api.errors``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import APIRouter

__all__ = ["ERROR_PREFIXES", "MLFLOW_PREFIXES", "routers"]

# Where MLflow's client and UI look for the server: every path under these answers in MLflow's error shape.
MLFLOW_PREFIXES = ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow", "/api/3.0/mlflow", "/ajax-api/3.0/mlflow")
ERROR_PREFIXES = (*MLFLOW_PREFIXES, "/api/2.0/mlflow-artifacts", "/ajax-api/2.0/mlflow-artifacts")


def routers() -> tuple[APIRouter, ...]:
    """Every MLflow router, mounted at each of MLflow's prefixes."""
    # Imported here, not at the top: see the module docstring (an import cycle through modelreg.api.errors).
    from fastapi import APIRouter  # noqa: PLC0415

    from modelreg.api.mlflow import artifact_routes, registry_routes, tracking_routes  # noqa: PLC0415

    mounted = []
    for base in ("/api", "/ajax-api"):
        for module in (registry_routes, tracking_routes):
            router = APIRouter(prefix=f"{base}/2.0/mlflow", include_in_schema=False)
            router.include_router(module.router)
            mounted.append(router)
        artifacts = APIRouter(prefix=f"{base}/2.0/mlflow-artifacts", include_in_schema=False)
        artifacts.include_router(artifact_routes.router)
        mounted.append(artifacts)
        info = APIRouter(prefix=f"{base}/3.0/mlflow", include_in_schema=False)
        info.include_router(tracking_routes.info_router)
        mounted.append(info)
    return tuple(mounted)
