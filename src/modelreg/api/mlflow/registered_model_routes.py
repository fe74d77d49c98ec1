"""MLflow's registered-model RPCs: create, get, update, rename, delete, search, latest versions, tags,
aliases (13 of the 22 registry routes, under ``/api/2.0/mlflow`` and ``/ajax-api/2.0/mlflow``).

Each reads MLflow's request message, calls the registry's use cases (which authorise and audit) and answers
MLflow's JSON (``messages``). Where MLflow's store answers a situation otherwise than our error mapping
would, the route says so and does as MLflow does:

- deleting a tag or an alias that is not set succeeds (``{}``), as long as the model exists;
- ``GET registered-models/alias`` of an alias that is not set is INVALID_PARAMETER_VALUE (400), and the
  alias ``latest`` means the newest live version.

Metadata only: plain ``def`` routes (run in FastAPI's thread pool).
"""

from __future__ import annotations

import contextlib

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from modelreg.api.auth import CallerRegistry
from modelreg.api.mlflow import grammar
from modelreg.api.mlflow import messages as render
from modelreg.api.mlflow.requests import Message, MlflowMessage
from modelreg.api.mlflow.search import MODELS_DEFAULT, MODELS_MAX, collect, latest_per_stage, max_results
from modelreg.api.mlflow.versions import live_version, model_name, version_number
from modelreg.errors import AliasNotFound, InvalidInput, TagNotFound
from modelreg.registry.names import check_alias
from modelreg.registry.service import Registry
from modelreg.types import STAGES

__all__ = ["router"]

router = APIRouter()
EMPTY: dict[str, str] = {}


@router.post("/registered-models/create")
def create_registered_model(registry: CallerRegistry, message: MlflowMessage) -> JSONResponse:
    model = registry.create_model(
        model_name(message),
        description=message.string("description") or "",
        tags=message.key_values("tags"),
    )
    return JSONResponse({"registered_model": render.registered_model(model)})


@router.get("/registered-models/get")
def get_registered_model(registry: CallerRegistry, message: MlflowMessage) -> JSONResponse:
    return _registered_model(registry, model_name(message))


@router.patch("/registered-models/update")
def update_registered_model(registry: CallerRegistry, message: MlflowMessage) -> JSONResponse:
    # MLflow sets the description to what the request holds: none at all clears it.
    name = model_name(message)
    registry.update_description(name, message.string("description") or "")
    return _registered_model(registry, name)


@router.post("/registered-models/rename")
def rename_registered_model(registry: CallerRegistry, message: MlflowMessage) -> JSONResponse:
    name = model_name(message)
    renamed = registry.rename_model(name, model_name(message, field="new_name"))
    return _registered_model(registry, renamed.name)


@router.delete("/registered-models/delete")
def delete_registered_model(registry: CallerRegistry, message: MlflowMessage) -> JSONResponse:
    registry.delete_model(model_name(message))
    return JSONResponse(EMPTY)


@router.get("/registered-models/search")
def search_registered_models(registry: CallerRegistry, message: MlflowMessage) -> JSONResponse:
    text = message.string("filter") or None
    order = message.strings("order_by")
    grammar.check_filter(text, target="models")
    grammar.check_order_by(order, target="models")
    wanted = max_results(message, default=MODELS_DEFAULT, maximum=MODELS_MAX)
    models, token = collect(
        lambda limit, page: registry.search_models(text, order_by=order, limit=limit, page_token=page),
        wanted=wanted,
        page_token=message.string("page_token"),
    )
    latest = latest_per_stage(registry, [model.name for model in models])
    body: dict[str, object] = {}
    if models:
        body["registered_models"] = [render.registered_model(m, latest[m.name]) for m in models]
    if token is not None:
        body["next_page_token"] = token
    return JSONResponse(body)


@router.get("/registered-models/get-latest-versions")
@router.post("/registered-models/get-latest-versions")
def get_latest_versions(registry: CallerRegistry, message: MlflowMessage) -> JSONResponse:
    name = model_name(message)
    stages = [render.stage_of(stage) for stage in message.strings("stages")] or list(STAGES)
    registry.get_model(name)  # an unknown model is RESOURCE_DOES_NOT_EXIST, not an empty list
    found = sorted(latest_per_stage(registry, [name], stages=stages)[name], key=lambda v: v.version)
    versions = [render.model_version(version) for version in found]
    return JSONResponse({"model_versions": versions} if versions else EMPTY)


@router.post("/registered-models/set-tag")
def set_registered_model_tag(registry: CallerRegistry, message: MlflowMessage) -> JSONResponse:
    registry.set_tag(model_name(message), message.required_string("key"), message.string("value") or "")
    return JSONResponse(EMPTY)


@router.delete("/registered-models/delete-tag")
def delete_registered_model_tag(registry: CallerRegistry, message: MlflowMessage) -> JSONResponse:
    # MLflow deletes a tag that is not set without complaint (the model exists: checked first).
    with contextlib.suppress(TagNotFound):
        registry.delete_tag(model_name(message), message.required_string("key"))
    return JSONResponse(EMPTY)


@router.post("/registered-models/alias")
def set_registered_model_alias(registry: CallerRegistry, message: MlflowMessage) -> JSONResponse:
    name = model_name(message)
    registry.set_alias(name, _alias(message), version_number(message, name))
    return JSONResponse(EMPTY)


@router.delete("/registered-models/alias")
def delete_registered_model_alias(registry: CallerRegistry, message: MlflowMessage) -> JSONResponse:
    # As MLflow: an alias that is not set is no error (the model exists: checked first).
    with contextlib.suppress(AliasNotFound):
        registry.delete_alias(model_name(message), _alias(message))
    return JSONResponse(EMPTY)


@router.get("/registered-models/alias")
def get_model_version_by_alias(registry: CallerRegistry, message: MlflowMessage) -> JSONResponse:
    name = model_name(message)
    alias = message.required_string("alias")
    if alias.lower() == "latest":  # MLflow's reserved alias: the newest live version
        return JSONResponse({"model_version": render.model_version(registry.get_version(name))})
    try:
        version = registry.get_version(f"{name}@{check_alias(alias)}")
    except AliasNotFound as error:
        raise InvalidInput(error.message, details={"parameter": "alias"}) from None
    return JSONResponse({"model_version": render.model_version(live_version(version))})


def _registered_model(registry: Registry, name: str) -> JSONResponse:
    model = registry.get_model(name)
    latest = latest_per_stage(registry, [model.name])[model.name]
    return JSONResponse({"registered_model": render.registered_model(model, latest)})


def _alias(message: Message) -> str:
    return check_alias(message.required_string("alias"))
