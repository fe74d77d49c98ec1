"""Our errors in MLflow's shape, for every path MLflow's client or UI calls.

MLflow answers ``{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "…"}`` with the status its code maps to
(``mlflow/exceptions.py``: ``ERROR_CODE_TO_HTTP_STATUS``). Its client raises ``MlflowException`` with that
code, and some flows branch on it: ``mlflow.register_model`` goes on to create a version when
``registered-models/create`` answers RESOURCE_ALREADY_EXISTS (400).

    ModelAlreadyExists, ExperimentAlreadyExists, VersionExists, …  RESOURCE_ALREADY_EXISTS   400
    NotFound family, VersionDeleted (gone, as MLflow's soft delete)  RESOURCE_DOES_NOT_EXIST   404
    InvalidInput family, request validation                         INVALID_PARAMETER_VALUE   400
                         (PayloadTooLarge keeps 413, RangeNotSatisfiable 416: HTTP semantics)
    MethodNotAllowed, an unknown route                              ENDPOINT_NOT_FOUND        404
    AuthenticationRequired                                          UNAUTHENTICATED           401
    PermissionDenied, PolicyCheckFailed (governance refusals)       PERMISSION_DENIED         403
    any other Conflict (legal hold, purged, …)                      RESOURCE_CONFLICT         409
    StorageUnavailable, ChunkBeingCollected                         TEMPORARILY_UNAVAILABLE   503
    IntegrityError (bytes that fail their sha256)                   DATA_LOSS                 500
    anything else                                                   INTERNAL_ERROR            500

MLflow's client retries every method, POST included, on 408/429/5xx (urllib3 ``Retry``, up to 7 times).
So a 5xx must only ever come from a call that changed nothing: every use case validates before its one
transaction, and an error after the commit is impossible by construction (the answer is built from what
the transaction returned).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi.responses import JSONResponse

from modelreg.api.mlflow import ERROR_PREFIXES
from modelreg.errors import (
    AuthenticationRequired,
    ChunkBeingCollected,
    Conflict,
    IntegrityError,
    InvalidInput,
    MethodNotAllowed,
    ModelregError,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RangeNotSatisfiable,
    StorageUnavailable,
    VersionDeleted,
)

__all__ = ["MlflowError", "endpoint_not_found", "is_mlflow_path", "mlflow_error", "mlflow_response"]

# By code rather than class: the conflicts that mean "that name or number is taken", as MLflow's
# IntegrityError handlers answer them.
_ALREADY_EXISTS = frozenset(
    {"MODEL_ALREADY_EXISTS", "EXPERIMENT_ALREADY_EXISTS", "PRINCIPAL_ALREADY_EXISTS", "VERSION_EXISTS"}
)
_GOVERNANCE = frozenset({"POLICY_CHECK_FAILED"})  # a Conflict to us; a refusal of the move to MLflow
# Statuses our errors keep under MLflow's code: they describe the HTTP exchange, not the resource.
_HTTP_LEVEL = (PayloadTooLarge, RangeNotSatisfiable)


@dataclass(frozen=True, slots=True)
class MlflowError:
    code: str
    status: int


def is_mlflow_path(path: str) -> bool:
    """Whether ``path`` lies under a prefix MLflow's client or UI calls (by segment: not /api/2.0/mlflowx)."""
    return any(path == prefix or path.startswith(prefix + "/") for prefix in ERROR_PREFIXES)


# Checked in order: the first family an error belongs to gives its code (subclasses before their bases).
_BY_FAMILY: tuple[tuple[type[ModelregError] | tuple[type[ModelregError], ...], MlflowError], ...] = (
    ((NotFound, VersionDeleted), MlflowError("RESOURCE_DOES_NOT_EXIST", 404)),
    (MethodNotAllowed, MlflowError("ENDPOINT_NOT_FOUND", 404)),
    (InvalidInput, MlflowError("INVALID_PARAMETER_VALUE", 400)),
    (AuthenticationRequired, MlflowError("UNAUTHENTICATED", 401)),
    (PermissionDenied, MlflowError("PERMISSION_DENIED", 403)),
    (Conflict, MlflowError("RESOURCE_CONFLICT", 409)),
    ((StorageUnavailable, ChunkBeingCollected), MlflowError("TEMPORARILY_UNAVAILABLE", 503)),
    (IntegrityError, MlflowError("DATA_LOSS", 500)),
)
_INTERNAL = MlflowError("INTERNAL_ERROR", 500)


def mlflow_error(error: ModelregError) -> MlflowError:
    """MLflow's error code for one of ours, and the status MLflow gives that code."""
    if error.code in _ALREADY_EXISTS:
        return MlflowError("RESOURCE_ALREADY_EXISTS", 400)
    if error.code in _GOVERNANCE:
        return MlflowError("PERMISSION_DENIED", 403)
    for family, mapped in _BY_FAMILY:
        if isinstance(error, family):
            status = error.http_status if isinstance(error, _HTTP_LEVEL) else mapped.status
            return MlflowError(mapped.code, status)
    return _INTERNAL


def mlflow_response(error: ModelregError, *, mapped: MlflowError | None = None) -> JSONResponse:
    """``{"error_code", "message"}`` with the status MLflow gives the code."""
    mapped = mapped or mlflow_error(error)
    headers = {"WWW-Authenticate": 'Basic realm="modelreg", Bearer'} if mapped.status == 401 else {}
    body = {"error_code": mapped.code, "message": error.message}
    return JSONResponse(body, status_code=mapped.status, headers=headers)


def endpoint_not_found(message: str) -> JSONResponse:
    """An unknown path, or a method the path does not take, under MLflow's prefixes (Databricks answers
    both with ENDPOINT_NOT_FOUND; MLflow's own server sends an HTML page its client cannot read)."""
    return mlflow_response(ModelregError(message), mapped=MlflowError("ENDPOINT_NOT_FOUND", 404))
