"""MLflow's model-version RPCs: create, get, update, delete, search, transition-stage, get-download-uri and
tags (9 of the 22 registry routes, under ``/api/2.0/mlflow`` and ``/ajax-api/2.0/mlflow``).

**Create** makes a normal modelreg version (interfaces §C): the ``source`` resolved to files the registry
already stores (``sources``) and committed through ``Registry.commit`` (one transaction: chunks checked,
number allocated, audit event), with the run id as lineage, the run's latest metrics and its params as the
version's, MLflow's tags as tags, and MLflow's own fields (source, run link, logged model id) in reserved
tags. As in MLflow the registered model must exist already. MLflow's client retries a POST that fails with
a 5xx: every check runs before the commit, and nothing after it can fail, so a retry never finds a version
half made (it makes the version it asked for, once).

**Transition-stage** is ``Registry.set_stage``, so governance applies: where the promotion policy wants
approvals for the stage the answer is PERMISSION_DENIED. ``archive_existing_versions`` then moves the
model's other versions in that stage to Archived (MLflow's semantics, Staging or Production only).
"""

from __future__ import annotations

import contextlib
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from modelreg.api.auth import CallerRegistry
from modelreg.api.mlflow import grammar, sources
from modelreg.api.mlflow import messages as render
from modelreg.api.mlflow.requests import Message, MlflowMessage
from modelreg.api.mlflow.search import (
    VERSIONS_DEFAULT,
    VERSIONS_DEFAULT_ORDER,
    VERSIONS_MAX,
    collect,
    max_results,
    version_filter,
)
from modelreg.api.mlflow.versions import model_name, version_of
from modelreg.errors import InvalidInput, InvalidMetadata, RunNotFound, TagNotFound
from modelreg.registry.names import MAX_ENTRIES, MAX_PARAM_VALUE, check_metrics, check_strings
from modelreg.registry.service import Registry
from modelreg.types import ModelVersion, Run

__all__ = ["router"]

router = APIRouter()
EMPTY: dict[str, str] = {}
_ARCHIVING_STAGES = ("staging", "production")  # MLflow's "active" stages, the only ones that archive others


@router.post("/model-versions/create")
def create_model_version(registry: CallerRegistry, message: MlflowMessage) -> JSONResponse:
    name = model_name(message)
    source = message.required_string("source")
    tags = _user_tags(message)
    registry.get_model(name)  # MLflow creates versions of existing models only (RESOURCE_DOES_NOT_EXIST)
    found = sources.resolve(
        registry, source, run_id=message.string("run_id") or None, model_id=message.string("model_id") or None
    )
    metrics, params = _run_data(registry, found.run or found.run_id)
    tags[render.SOURCE_TAG] = found.uri
    if message.string("run_link"):
        tags[render.RUN_LINK_TAG] = message.string("run_link") or ""
    if found.model_id:
        tags[render.MODEL_ID_TAG] = found.model_id
    report = registry.commit(
        name,
        found.manifest,
        metrics=metrics,
        params=params,
        tags=tags,
        description=message.string("description") or "",
        lineage={"run_id": found.run_id} if found.run_id else None,
    )
    return _version(report.version)


@router.get("/model-versions/get")
def get_model_version(registry: CallerRegistry, message: MlflowMessage) -> JSONResponse:
    return _version(version_of(registry, message))


@router.patch("/model-versions/update")
def update_model_version(registry: CallerRegistry, message: MlflowMessage) -> JSONResponse:
    pinned = version_of(registry, message).ref
    registry.update_description(pinned, message.string("description") or "")
    return _version(registry.get_version(pinned))


@router.delete("/model-versions/delete")
def delete_model_version(registry: CallerRegistry, message: MlflowMessage) -> JSONResponse:
    registry.delete_version(version_of(registry, message).ref)
    return JSONResponse(EMPTY)


@router.post("/model-versions/transition-stage")
def transition_model_version_stage(registry: CallerRegistry, message: MlflowMessage) -> JSONResponse:
    stage = render.stage_of(message.required_string("stage"))
    archive = bool(message.boolean("archive_existing_versions"))
    if archive and stage not in _ARCHIVING_STAGES:
        raise InvalidInput(
            "Model version transition cannot archive existing model versions because "
            f"'{render.MLFLOW_STAGES[stage]}' is not an Active stage. Valid stages are "
            "['Staging', 'Production']",
            details={"parameter": "archive_existing_versions"},
        )
    return _version(registry.set_stage(version_of(registry, message).ref, stage, archive_existing=archive))


@router.get("/model-versions/get-download-uri")
def get_model_version_download_uri(registry: CallerRegistry, message: MlflowMessage) -> JSONResponse:
    version = version_of(registry, message)
    return JSONResponse({"artifact_uri": render.download_uri(version.name, version.version)})


@router.get("/model-versions/search")
def search_model_versions(registry: CallerRegistry, message: MlflowMessage) -> JSONResponse:
    text = version_filter(message.string("filter") or None)
    grammar.check_filter(text, target="versions")
    order = message.strings("order_by")
    grammar.check_order_by(order, target="versions")
    order = order or list(VERSIONS_DEFAULT_ORDER)
    found, token = collect(
        lambda limit, page: registry.search_versions(text, order_by=order, limit=limit, page_token=page),
        wanted=max_results(message, default=VERSIONS_DEFAULT, maximum=VERSIONS_MAX),
        page_token=message.string("page_token"),
    )
    body: dict[str, Any] = {}
    if found:
        body["model_versions"] = [render.model_version(version, aliases=False) for version in found]
    if token is not None:
        body["next_page_token"] = token
    return JSONResponse(body)


@router.post("/model-versions/set-tag")
def set_model_version_tag(registry: CallerRegistry, message: MlflowMessage) -> JSONResponse:
    pinned = version_of(registry, message).ref
    registry.set_tag(pinned, _tag_key(message), message.string("value") or "")
    return JSONResponse(EMPTY)


@router.delete("/model-versions/delete-tag")
def delete_model_version_tag(registry: CallerRegistry, message: MlflowMessage) -> JSONResponse:
    pinned = version_of(registry, message).ref
    # MLflow deletes a tag that is not set without complaint (the version exists: checked first).
    with contextlib.suppress(TagNotFound):
        registry.delete_tag(pinned, _tag_key(message))
    return JSONResponse(EMPTY)


def _version(version: ModelVersion) -> JSONResponse:
    return JSONResponse({"model_version": render.model_version(version)})


def _tag_key(message: Message) -> str:
    return _unreserved(message.required_string("key"), "key")


def _user_tags(message: Message) -> dict[str, str]:
    tags = message.key_values("tags")
    for key in tags:
        _unreserved(key, "tags")
    return tags


def _unreserved(key: str, parameter: str) -> str:
    """Tag keys under our reserved prefix hold the version's MLflow fields: not for MLflow's tags."""
    if key.startswith(render.RESERVED_TAG_PREFIX):
        raise InvalidInput(
            f"Invalid tag key {key[:250]!r}: keys starting with '{render.RESERVED_TAG_PREFIX}' are reserved",
            details={"parameter": parameter},
        )
    return key


def _run_data(registry: Registry, run: Run | str | None) -> tuple[dict[str, float], dict[str, str]]:
    """The run's latest metric values and its params, as far as a version can hold them.

    MLflow runs routinely log NaN or infinite metrics (a diverged loss) and may use keys our rules refuse;
    those entries are left out rather than failing the registration (the run keeps them all). A run id
    that names no run here (a run of another server) brings no metrics, as MLflow never checks it."""
    if run is None:
        return {}, {}
    if isinstance(run, str):
        try:
            run = registry.get_run(run)
        except RunNotFound:
            return {}, {}
    return _first(_storable_metrics(run)), _first(_storable_params(run))


def _storable_metrics(run: Run) -> dict[str, float]:
    kept: dict[str, float] = {}
    for metric in run.metrics:
        try:
            kept.update(check_metrics({metric.key: metric.value}))
        except InvalidMetadata:
            continue
    return kept


def _storable_params(run: Run) -> dict[str, str]:
    kept: dict[str, str] = {}
    for key, value in run.params.items():
        try:
            kept.update(check_strings("param", {key: value}, max_value=MAX_PARAM_VALUE))
        except InvalidMetadata:
            continue
    return kept


def _first(values: dict[str, Any]) -> dict[str, Any]:
    """At most ``MAX_ENTRIES`` entries (the most a version holds), by key."""
    return {key: values[key] for key in sorted(values)[:MAX_ENTRIES]}
