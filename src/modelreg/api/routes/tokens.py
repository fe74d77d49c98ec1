"""API tokens (admins): create (the secret is in this one answer), list, revoke."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response
from fastapi.responses import JSONResponse

from modelreg.api.auth import CallerRegistry
from modelreg.api.responses import ERRORS, answers, items, one
from modelreg.api.schemas import TokenBody, TokenList
from modelreg.types import Token

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"], responses=ERRORS)


@router.post("", **answers(Token, 201, "The token, with its secret: shown this once, never stored."))
def create_token(registry: CallerRegistry, body: TokenBody) -> Response:
    """Create an API token for a role (viewer, contributor, approver, admin), optionally acting as a user."""
    token = registry.create_token(body.name, role=body.role, expires_at=body.expires_at, user=body.user)
    return one(token, 201)


@router.get("", **answers(TokenList))
def list_tokens(registry: CallerRegistry) -> Response:
    """Every token ever created (without secrets), revoked and expired ones included."""
    return items(registry.list_tokens())


@router.delete("/{name}", **answers(dict[str, int], description='{"revoked": n}'))
def revoke_token(registry: CallerRegistry, name: Annotated[str, Path(description="Token name.")]) -> Response:
    """Revoke every active token with this name; 404 TOKEN_NOT_FOUND when there is none."""
    return JSONResponse({"revoked": registry.revoke_token(name)})
