"""Models: list, create, read, describe, tag, rename, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from modelreg.api.auth import CallerRegistry
from modelreg.api.params import ModelName, TagKey
from modelreg.api.responses import ERRORS, answers, one, page
from modelreg.api.schemas import CreateModelBody, DescriptionBody, ModelPage, RenameModelBody, TagBody
from modelreg.types import Model

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/models", tags=["models"], responses=ERRORS)


@router.get("", **answers(ModelPage))
def list_models(
    registry: CallerRegistry,
    limit: Annotated[int, Query(description="Page size, 1-1000.")] = 100,
    page_token: Annotated[str | None, Query(description="next_page_token of the previous page.")] = None,
) -> Response:
    """List models, by name."""
    return page(registry.list_models(limit=limit, page_token=page_token))


@router.post("", **answers(Model, 201, "The new model (or the deleted one of that name, revived)."))
def create_model(registry: CallerRegistry, body: CreateModelBody) -> Response:
    """Create a model without versions (audited); 409 MODEL_ALREADY_EXISTS when one of that name exists.

    A deleted model of that name is revived: its history goes on and its next version number follows the
    highest it ever had (numbers are never reused)."""
    return one(registry.create_model(body.name, description=body.description, tags=body.tags), 201)


@router.get("/{name}", **answers(Model))
def get_model(registry: CallerRegistry, name: ModelName) -> Response:
    """One model: description, tags, latest version, aliases."""
    return one(registry.get_model(name))


@router.patch("/{name}", **answers(Model))
def describe_model(registry: CallerRegistry, name: ModelName, body: DescriptionBody) -> Response:
    """Replace a model's description (audited)."""
    registry.update_description(name, body.description)
    return one(registry.get_model(name))


@router.put("/{name}/tags/{key:path}", **answers(Model))
def set_model_tag(registry: CallerRegistry, name: ModelName, key: TagKey, body: TagBody) -> Response:
    """Set one tag of a model (audited)."""
    registry.set_tag(name, key, body.value)
    return one(registry.get_model(name))


@router.delete("/{name}/tags/{key:path}", status_code=204, response_class=Response)
def delete_model_tag(registry: CallerRegistry, name: ModelName, key: TagKey) -> Response:
    """Remove one tag of a model (audited); 404 TAG_NOT_FOUND when it is not set."""
    registry.delete_tag(name, key)
    return Response(status_code=204)


@router.post("/{name}/rename", **answers(Model, description="The model under its new name."))
def rename_model(registry: CallerRegistry, name: ModelName, body: RenameModelBody) -> Response:
    """Rename a model (model:rename on both names; audited): aliases, versions and history move with it.

    409 MODEL_ALREADY_EXISTS when a model, live or deleted, has the new name."""
    return one(registry.rename_model(name, body.new_name))


@router.delete("/{name}", status_code=204, response_class=Response)
def delete_model(registry: CallerRegistry, name: ModelName) -> Response:
    """Delete a model and every live version of it (soft: files, history and numbers are kept; audited).

    Afterwards the model is not found by name; creating it again revives it. 409 VERSION_PROTECTED when a
    version is under legal hold or a deployment is recorded as serving it."""
    registry.delete_model(name)
    return Response(status_code=204)
