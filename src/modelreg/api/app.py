"""``create_app``: the FastAPI application over one ``Registry``.

    RequestLog   request id, access log, metrics, last-resort 500   (outermost)
    BodyLimit    413 for oversized bodies, before anything reads them
    (FastAPI)    exception handlers → the one error shape; routes → Registry use cases

The app holds no state that matters for correctness (DESIGN §6): the registry reads and writes the shared
database and chunk store, so any number of processes and replicas can serve the same registry.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any

from fastapi import FastAPI

from modelreg.api import errors, mlflow
from modelreg.api.auth import Authenticator
from modelreg.api.limits import BodyLimit, Limits
from modelreg.api.logging import RequestLog
from modelreg.api.metrics import Metrics
from modelreg.api.routes import ROUTERS
from modelreg.registry.service import Registry

__all__ = ["OPENAPI_URL", "create_app", "openapi_document"]

OPENAPI_URL = "/api/v1/openapi.json"
_DESCRIPTION = (
    "The modelreg REST API: models, versions, aliases, search, content transfer and tokens. Errors always "
    'have the shape `{"error": {"code", "message", "details"}}` (codes: docs/errors.md).'
)


def create_app(
    registry: Registry,
    *,
    limits: Limits | None = None,
    allow_anonymous: bool = True,
    on_close: Callable[[], None] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> FastAPI:
    """The API over ``registry`` (its actor is replaced per request by the authenticated caller).

    ``allow_anonymous``: whether requests without a token act as admin while no active token exists (see
    ``modelreg.api.auth``). ``on_close`` runs at shutdown (the server closes its database pool there).
    """

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if on_close is not None:
            on_close()

    app = _application(lifespan=lifespan)
    metrics = Metrics()
    app.state.registry = registry
    app.state.metrics = metrics
    app.state.authenticator = Authenticator(
        registry.metadata, allow_anonymous=allow_anonymous, clock=clock or _utc_now
    )
    app.add_middleware(BodyLimit, limits=limits or Limits())
    app.add_middleware(RequestLog, metrics=metrics)  # added last: the outermost
    return app


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document, without a registry (for ``docs/api.md``)."""
    return _application().openapi()


def _application(**kwargs: Any) -> FastAPI:
    app = FastAPI(
        title="modelreg",
        # Not `modelreg.__version__`: the package root lazily reaches the composition root.
        version=version("modelreg"),
        description=_DESCRIPTION,
        openapi_url=OPENAPI_URL,
        docs_url="/docs",
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        **kwargs,
    )
    errors.install(app)
    for router in (*ROUTERS, *mlflow.routers()):
        app.include_router(router)
    _document_errors_as_ours(app)
    return app


def _document_errors_as_ours(app: FastAPI) -> None:
    """FastAPI documents validation failures as 422 with its own body; ours are 400 with the error shape."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _without_validation_422(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _without_validation_422(document: dict[str, Any]) -> dict[str, Any]:
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            if "HTTPValidationError" in str(responses.get("422", "")):
                del responses["422"]
    schemas = document.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    return document


def _utc_now() -> datetime:
    return datetime.now(UTC)
