"""How routes answer: the public types' ``to_dict()`` as JSON, and how that is declared for the docs.

Routes build their JSON from ``to_dict()`` (the contract's wire shape, the same as ``--json`` in the CLI)
rather than letting FastAPI serialise the dataclasses, whose ISO times and tuples it would spell differently.
``answers(Type)`` declares the shape for the OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from fastapi.responses import JSONResponse

from modelreg.api.schemas import ErrorResponse
from modelreg.types import Page

__all__ = ["ERRORS", "answers", "items", "one", "page"]

# Every route may fail; the one error shape is documented once per route as the default response.
ERRORS: dict[int | str, dict[str, Any]] = {
    "default": {"model": ErrorResponse, "description": "Any error: the one error shape (docs/errors.md)."}
}


class _Serialisable(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


def answers(shape: Any, status: int = 200, description: str = "Success") -> dict[str, Any]:
    """Decorator keywords declaring the success response's shape (and nothing FastAPI would validate)."""
    return {
        "status_code": status,
        "response_model": None,
        "responses": {status: {"model": shape, "description": description}},
    }


def one(value: _Serialisable, status: int = 200) -> JSONResponse:
    return JSONResponse(value.to_dict(), status_code=status)


def page(result: Page[Any]) -> JSONResponse:
    return JSONResponse(
        {"items": [item.to_dict() for item in result.items], "next_page_token": result.next_page_token}
    )


def items(values: Iterable[_Serialisable]) -> JSONResponse:
    return JSONResponse({"items": [value.to_dict() for value in values]})
