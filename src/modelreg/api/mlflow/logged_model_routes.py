"""MLflow 3's logged-model RPCs: create, get, finalize, set tags, search (part of ``tracking_routes``).

A logged model is what ``mlflow.<flavor>.log_model`` makes in MLflow 3: an id (``m-<32 hex>``), a status
(PENDING until the client has uploaded its files, then READY or UPLOAD_FAILED), tags, params and an
artifact location ``mlflow-artifacts:/<experiment>/models/<id>/artifacts`` that the artifact routes serve.
``model-versions/create`` with source ``models:/m-…`` registers those files as a version.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse

from modelreg.api.auth import CallerRegistry
from modelreg.api.mlflow import tracking_messages as render
from modelreg.api.mlflow.requests import Message, MlflowMessage
from modelreg.errors import InvalidInput

__all__ = ["router"]

router = APIRouter()

ModelId = Annotated[str, Path(description="A logged model id, m-<32 hex>.")]
_SEARCH_DEFAULT = 50  # SearchLoggedModels.max_results' proto default


@router.post("/logged-models")
def create_logged_model(registry: CallerRegistry, message: MlflowMessage) -> JSONResponse:
    created = registry.create_logged_model(
        message.required_string("experiment_id"),
        name=message.string("name") or None,
        model_type=message.string("model_type") or None,
        source_run_id=message.string("source_run_id") or None,
        params=message.key_values("params"),
        tags=message.key_values("tags"),
    )
    return JSONResponse({"model": render.logged_model(created)})


@router.post("/logged-models/search")
def search_logged_models(registry: CallerRegistry, message: MlflowMessage) -> JSONResponse:
    if message.messages("datasets"):
        raise InvalidInput("searching logged models by dataset is not supported by this server")
    page = registry.search_logged_models(
        message.strings("experiment_ids", required=True),
        filter=message.string("filter") or None,
        order_by=[_order_by(item) for item in message.messages("order_by")] or None,
        max_results=message.integer("max_results") or _SEARCH_DEFAULT,
        page_token=message.string("page_token") or None,
    )
    body: dict[str, Any] = {"models": [render.logged_model(item) for item in page.items]}
    if not body["models"]:
        del body["models"]
    if page.next_page_token:
        body["next_page_token"] = page.next_page_token
    return JSONResponse(body)


@router.get("/logged-models/{model_id}")
def get_logged_model(registry: CallerRegistry, model_id: ModelId) -> JSONResponse:
    return JSONResponse({"model": render.logged_model(registry.get_logged_model(model_id))})


@router.patch("/logged-models/{model_id}")
def finalize_logged_model(
    registry: CallerRegistry, model_id: ModelId, message: MlflowMessage
) -> JSONResponse:
    if not message.has("status"):
        raise message.missing("status")
    status = render.logged_model_status(message.raw("status"))
    return JSONResponse({"model": render.logged_model(registry.finalize_logged_model(model_id, status))})


@router.patch("/logged-models/{model_id}/tags")
def set_logged_model_tags(
    registry: CallerRegistry, model_id: ModelId, message: MlflowMessage
) -> JSONResponse:
    registry.set_logged_model_tags(model_id, message.key_values("tags"))
    return JSONResponse({})  # MLflow's server answers an empty message here, not the model


def _order_by(item: Message) -> dict[str, Any]:
    return {
        "field_name": item.required_string("field_name"),
        "ascending": item.boolean("ascending") is not False,
    }
