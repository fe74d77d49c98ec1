"""docs/api.md is generated from the OpenAPI document; this fails when it is stale or incomplete.

Regenerate with ``python -m modelreg.api.docs docs/api.md``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import FastAPI

from modelreg.api.app import openapi_document
from modelreg.api.docs import Undocumented, render_reference

PAGE = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def test_api_reference_is_up_to_date() -> None:
    assert PAGE.read_text(encoding="utf-8") == render_reference(), (
        "docs/api.md is stale: run `python -m modelreg.api.docs docs/api.md`"
    )


def test_every_operation_is_in_the_reference() -> None:
    page = render_reference()
    document = openapi_document()
    for path, operations in document["paths"].items():
        for method in operations:
            assert f"### `{method.upper()} {path}`" in page
    for name in ("ModelVersion", "ErrorResponse", "CommitBody"):
        assert f"### {name}" in page


def test_validation_errors_are_documented_as_ours() -> None:
    document = openapi_document()
    for operations in document["paths"].values():
        for operation in operations.values():
            assert "422" not in operation["responses"] or "HTTPValidationError" not in str(operation)
            assert operation["responses"]["default"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorResponse"
            }
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_an_undocumented_route_fails_generation() -> None:
    sloppy = FastAPI()

    @sloppy.get("/thing/{name}")
    def thing(name: str) -> None:
        pass

    with pytest.raises(Undocumented, match=re.escape("GET /thing/{name}: no docstring")):
        render_reference(sloppy.openapi())


def test_an_undocumented_parameter_fails_generation() -> None:
    sloppy = FastAPI()

    @sloppy.get("/thing/{name}")
    def thing(name: str) -> None:
        """A thing."""

    with pytest.raises(Undocumented, match="parameter 'name' has no description"):
        render_reference(sloppy.openapi())
