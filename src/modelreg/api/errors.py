"""Every non-2xx answer has one shape: ``{"error": {"code", "message", "details"}}`` (DESIGN §5).

    ModelregError                 its own code and status (401 adds ``WWW-Authenticate: Bearer``,
                                  416 adds ``Content-Range: bytes */<size>``)
    RequestValidationError        400 INVALID_INPUT, details.errors = the field errors (never the input)
    Starlette's HTTPException     404 NOT_FOUND (unknown route), 405 METHOD_NOT_ALLOWED (keeps ``Allow``), …
    anything else                 500 INTERNAL_ERROR with the request id; the traceback goes to the log only

Under MLflow's prefixes (``modelreg.api.mlflow.ERROR_PREFIXES``) the same errors take MLflow's shape instead,
``{"error_code", "message"}`` with MLflow's code and status (``modelreg.api.mlflow.errors``), because MLflow's
client reads nothing else; an unknown route or method there is ENDPOINT_NOT_FOUND.

The last case is handled by ``modelreg.api.logging.RequestLog``, which sits outside the routing and also sees
exceptions raised by middleware; it renders the response with ``internal_error`` below.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from modelreg.api.mlflow.errors import endpoint_not_found, is_mlflow_path, mlflow_response
from modelreg.errors import (
    AuthenticationRequired,
    Conflict,
    InvalidInput,
    MethodNotAllowed,
    ModelregError,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RangeNotSatisfiable,
    StorageUnavailable,
)

__all__ = ["error_response", "install", "internal_error"]

_log = logging.getLogger("modelreg.api")

# What a framework-raised HTTPException becomes; other 4xx statuses keep their status as INVALID_INPUT.
_BY_STATUS: dict[int, type[ModelregError]] = {
    400: InvalidInput,
    401: AuthenticationRequired,
    403: PermissionDenied,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    413: PayloadTooLarge,
    416: RangeNotSatisfiable,
    503: StorageUnavailable,
}
_MAX_FIELD_ERRORS = 20


def error_response(
    error: ModelregError, *, status: int | None = None, path: str | None = None
) -> JSONResponse:
    """The JSON response for one of our errors, with the headers its status calls for; for a request to
    ``path`` under MLflow's prefixes, in MLflow's shape."""
    if path is not None and is_mlflow_path(path):
        return mlflow_response(error)
    headers: dict[str, str] = {}
    if isinstance(error, AuthenticationRequired):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(error, RangeNotSatisfiable) and isinstance(error.details.get("size"), int):
        headers["Content-Range"] = f"bytes */{error.details['size']}"
    return JSONResponse(error.to_dict(), status_code=status or error.http_status, headers=headers)


def internal_error(request_id: str, *, path: str | None = None) -> JSONResponse:
    """The 500 answer: a generic message and the request id to find the traceback in the server log."""
    error = ModelregError(
        f"internal server error; the server log has the details under request id {request_id}",
        details={"request_id": request_id},
    )
    return error_response(error, path=path)


def install(app: FastAPI) -> None:
    app.add_exception_handler(ModelregError, _on_modelreg_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _on_validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _on_http_exception)  # type: ignore[arg-type]


async def _on_modelreg_error(request: Request, error: ModelregError) -> JSONResponse:
    if error.http_status >= 500 and not isinstance(error, StorageUnavailable):
        _log.error("request %s failed: %s", _request_id(request), error, exc_info=error)
    return error_response(error, path=request.url.path)


async def _on_validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    problems = [_field_error(item) for item in error.errors()[:_MAX_FIELD_ERRORS]]
    first: dict[str, Any] = problems[0] if problems else {"loc": [], "message": "invalid request"}
    where = ".".join(str(part) for part in first["loc"])
    more = f" (and {len(error.errors()) - 1} more)" if len(error.errors()) > 1 else ""
    message = f"invalid request: {where}: {first['message']}{more}" if where else str(first["message"])
    invalid = InvalidInput(message, details={"errors": problems})
    return error_response(invalid, path=request.url.path)


async def _on_http_exception(request: Request, error: HTTPException) -> JSONResponse:
    error_class = _BY_STATUS.get(
        error.status_code, InvalidInput if error.status_code < 500 else ModelregError
    )
    if error.status_code == 404:
        message = f"no such route: {request.method} {request.url.path}"
    elif error.status_code == 405:
        allowed = (error.headers or {}).get("Allow", "")
        message = f"method {request.method} is not allowed on {request.url.path} (allowed: {allowed})"
    else:
        message = str(error.detail)
    if error.status_code in (404, 405) and is_mlflow_path(request.url.path):
        response = endpoint_not_found(message)
    else:
        response = error_response(error_class(message), status=error.status_code, path=request.url.path)
    for name, value in (error.headers or {}).items():
        response.headers[name] = value
    return response


def _field_error(item: Any) -> dict[str, Any]:
    """One validation problem, without the offending input (it may be huge, or a secret)."""
    return {"loc": [str(part) for part in item.get("loc", ())], "message": str(item.get("msg", "invalid"))}


def _request_id(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", "-"))
