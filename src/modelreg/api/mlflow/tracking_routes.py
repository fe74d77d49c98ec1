"""MLflow's tracking RPCs that registry flows touch: experiments, runs, logged models; and server-info.

Enough of MLflow's tracking service for training code (``mlflow.start_run``, ``log_metric``, ``log_param``,
``set_tag``, ``log_batch``), ``mlflow.<flavor>.log_model(…, registered_model_name=…)``,
``mlflow.register_model`` and ``load_model`` to run unchanged against modelreg, checked against the calls
MLflow 3.17.2's client makes to its own server. Each route reads the request message
(``requests``), calls one ``Registry`` use case, which authorises (``tracking:read`` /
``tracking:write``) and audits, and renders the answer (``tracking_messages``). Metadata-only, so the routes
are plain ``def`` (FastAPI runs them in its thread pool).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from modelreg.api.auth import CallerRegistry
from modelreg.api.mlflow import logged_model_routes
from modelreg.api.mlflow import tracking_messages as render
from modelreg.api.mlflow.artifact_routes import directory, list_entries, store_path
from modelreg.api.mlflow.requests import Message, MlflowMessage
from modelreg.registry.service import Registry
from modelreg.types import Metric, RunInput

__all__ = ["info_router", "router"]

router = APIRouter()
router.include_router(logged_model_routes.router)
info_router = APIRouter()  # mounted under /api/3.0/mlflow: server-info

# What MLflow's server says about itself (GET /api/3.0/mlflow/server-info). Its client reads the multipart
# flags before artifact transfers: we have no presigned or multipart artifact routes, so both are off and it
# uses the plain streaming PUT and GET. "SqlStore" is what MLflow's SQL-backed server reports.
SERVER_INFO: dict[str, Any] = {
    "store_type": "SqlStore",
    "workspaces_enabled": False,
    "trace_archival_enabled": False,
    "multipart_uploads_enabled": False,
    "multipart_downloads_enabled": False,
    "presigned_upload_run_id_supported": False,
    "presigned_upload_model_id_supported": False,
    "features_enabled": {"gateway": False},
}


@info_router.get("/server-info")
def server_info() -> JSONResponse:
    return JSONResponse(SERVER_INFO)


# Experiments


@router.get("/experiments/get-by-name")
def get_experiment_by_name(registry: CallerRegistry, message: MlflowMessage) -> JSONResponse:
    found = registry.get_experiment_by_name(message.required_string("experiment_name"))
    return JSONResponse({"experiment": render.experiment(found)})


@router.get("/experiments/get")
def get_experiment(registry: CallerRegistry, message: MlflowMessage) -> JSONResponse:
    found = registry.get_experiment(message.required_string("experiment_id"))
    return JSONResponse({"experiment": render.experiment(found)})


@router.post("/experiments/create")
def create_experiment(registry: CallerRegistry, message: MlflowMessage) -> JSONResponse:
    created = registry.create_experiment(
        message.required_string("name"),
        artifact_location=message.string("artifact_location") or None,
        tags=message.key_values("tags"),
    )
    return JSONResponse({"experiment_id": created.experiment_id})


# Runs


@router.post("/runs/create")
def create_run(registry: CallerRegistry, message: MlflowMessage) -> JSONResponse:
    created = registry.create_run(
        message.required_string("experiment_id"),
        run_name=message.string("run_name") or None,
        start_time=message.integer("start_time"),
        tags=message.key_values("tags"),
        user_id=message.string("user_id") or None,
    )
    return JSONResponse({"run": render.run(created, outputs=False)})


@router.get("/runs/get")
def get_run(registry: CallerRegistry, message: MlflowMessage) -> JSONResponse:
    return JSONResponse({"run": render.run(registry.get_run(_run_id(message)))})


@router.post("/runs/update")
def update_run(registry: CallerRegistry, message: MlflowMessage) -> JSONResponse:
    status = render.run_status(message.raw("status")) if message.has("status") else None
    updated = registry.update_run(
        _run_id(message),
        status=status,
        end_time=message.integer("end_time"),
        run_name=message.string("run_name") or None,
    )
    return JSONResponse({"run_info": render.run_info(updated)})


@router.post("/runs/log-batch")
def log_batch(registry: CallerRegistry, message: MlflowMessage) -> JSONResponse:
    run_id = _run_id(message)
    items = message.messages("metrics")
    metrics = [_metric(item) for item in items]
    registry.log_batch(
        run_id,
        metrics=metrics,
        params=message.key_values("params"),
        tags=message.key_values("tags"),
    )
    _log_model_metrics(registry, run_id, items, metrics)
    return JSONResponse({})


# One metric, param or tag at a time: what ``mlflow.log_metric``, ``log_param`` and ``set_tag`` send.


@router.post("/runs/log-metric")
def log_metric(registry: CallerRegistry, message: MlflowMessage) -> JSONResponse:
    run_id, metric = _run_id(message), _metric(message)
    registry.log_batch(run_id, metrics=[metric])
    _log_model_metrics(registry, run_id, [message], [metric])
    return JSONResponse({})


@router.post("/runs/log-parameter")
def log_param(registry: CallerRegistry, message: MlflowMessage) -> JSONResponse:
    key = message.required_string("key")
    registry.log_batch(_run_id(message), params={key: message.string("value") or ""})
    return JSONResponse({})


@router.post("/runs/set-tag")
def set_tag(registry: CallerRegistry, message: MlflowMessage) -> JSONResponse:
    key = message.required_string("key")
    registry.log_batch(_run_id(message), tags={key: message.string("value") or ""})
    return JSONResponse({})


@router.get("/metrics/get-history")
def get_metric_history(registry: CallerRegistry, message: MlflowMessage) -> JSONResponse:
    """Every value of one metric of a run, in one page (MLflow's server pages only when asked to)."""
    history = registry.get_metric_history(_run_id(message), message.required_string("metric_key"))
    return JSONResponse({"metrics": [render.metric(item) for item in history]} if history else {})


@router.post("/runs/log-inputs")
def log_inputs(registry: CallerRegistry, message: MlflowMessage) -> JSONResponse:
    run_id = message.required_string("run_id")
    datasets = [_dataset(item) for item in message.messages("datasets")]
    models = [item.required_string("model_id") for item in message.messages("models")]
    registry.log_inputs(run_id, datasets=datasets, models=models)
    return JSONResponse({})


@router.post("/runs/outputs")
def log_outputs(registry: CallerRegistry, message: MlflowMessage) -> JSONResponse:
    run_id = message.required_string("run_id")
    models = [
        (item.required_string("model_id"), item.integer("step") or 0)
        for item in message.messages("models", required=True)
    ]
    registry.log_outputs(run_id, models=models)
    return JSONResponse({})


@router.get("/artifacts/list")
def list_run_artifacts(registry: CallerRegistry, message: MlflowMessage) -> JSONResponse:
    """One level of a run's artifacts; paths relative to the run's artifact root, as MLflow lists them."""
    path = directory(message.string("path"))
    found = registry.get_run(_run_id(message))
    root = store_path(found.artifact_uri)
    prefix = f"{root}/"
    files = [
        render.file_info(entry.path.removeprefix(prefix), is_dir=entry.is_dir, size=entry.size)
        for entry in list_entries(registry, f"{root}/{path}" if path else root)
    ]
    body: dict[str, Any] = {"root_uri": found.artifact_uri}
    if files:
        body["files"] = files
    return JSONResponse(body)


def _run_id(message: Message) -> str:
    """``run_id``, or the deprecated ``run_uuid`` that older clients send instead."""
    if message.string("run_id"):
        return message.required_string("run_id")
    if message.string("run_uuid"):
        return message.required_string("run_uuid")
    raise message.missing("run_id")


def _log_model_metrics(registry: Registry, run_id: str, items: list[Message], metrics: list[Metric]) -> None:
    """Metrics that carry a ``model_id`` are also that logged model's metrics, as in MLflow's store (its
    client re-logs a run's metrics this way when ``log_model`` creates the model)."""
    by_model: dict[str, list[Metric]] = {}
    for item, metric in zip(items, metrics, strict=True):
        model_id = item.string("model_id")
        if model_id:
            by_model.setdefault(model_id, []).append(metric)
    for model_id, logged in by_model.items():
        registry.log_model_metrics(model_id, logged, run_id=run_id)


def _metric(item: Message) -> Metric:
    return Metric(
        key=item.required_string("key"),
        value=item.required_number("value"),
        timestamp=item.required_integer("timestamp"),
        step=item.integer("step") or 0,
    )


def _dataset(item: Message) -> RunInput:
    dataset = item.message("dataset")
    return RunInput(
        name=dataset.required_string("name"),
        digest=dataset.required_string("digest"),
        source_type=dataset.required_string("source_type"),
        source=dataset.required_string("source"),
        schema=dataset.string("schema") or None,
        profile=dataset.string("profile") or None,
        tags=item.key_values("tags"),
    )
