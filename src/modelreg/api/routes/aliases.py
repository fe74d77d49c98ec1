"""Aliases: mutable named pointers to versions (@champion), moved atomically, with history."""

from __future__ import annotations

from fastapi import APIRouter, Response

from modelreg.api.auth import CallerRegistry
from modelreg.api.params import AliasName, ModelName
from modelreg.api.responses import ERRORS, answers, items, one
from modelreg.api.schemas import AliasBody, AliasHistory
from modelreg.types import AliasChange, ModelVersion

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/models/{name}/aliases", tags=["aliases"], responses=ERRORS)


@router.get("/{alias}", **answers(ModelVersion))
def get_alias(registry: CallerRegistry, name: ModelName, alias: AliasName) -> Response:
    """The version the alias points at."""
    return one(registry.get_version(f"{name}@{alias}"))


@router.put("/{alias}", **answers(AliasChange))
def set_alias(registry: CallerRegistry, name: ModelName, alias: AliasName, body: AliasBody) -> Response:
    """Point the alias at a version (created if needed; the move is recorded)."""
    return one(registry.set_alias(name, alias, body.version))


@router.delete("/{alias}", status_code=204, response_class=Response)
def delete_alias(registry: CallerRegistry, name: ModelName, alias: AliasName) -> Response:
    """Remove the alias; its history stays."""
    registry.delete_alias(name, alias)
    return Response(status_code=204)


@router.get("/{alias}/history", **answers(AliasHistory))
def alias_history(registry: CallerRegistry, name: ModelName, alias: AliasName) -> Response:
    """Every interval the alias pointed somewhere, oldest first; the current one has until = null."""
    return items(registry.alias_history(name, alias))
