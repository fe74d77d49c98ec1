"""docs/api.md is generated from the OpenAPI document; this fails when it is stale or incomplete.

Regenerate with ``python -m modelreg.api.docs docs/api.md``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

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


def test_names_are_declared_with_the_registry_patterns_and_checked_by_the_registry(
    client: TestClient,
) -> None:
    """The OpenAPI document shows the patterns (for client generators and contract tests); a name outside
    them still gets the registry's own error, not a generic validation error."""
    document = openapi_document()
    get_model = document["paths"]["/api/v1/models/{name}"]["get"]
    (pattern,) = [p["schema"]["pattern"] for p in get_model["parameters"] if p["name"] == "name"]
    alias_route = document["paths"]["/api/v1/models/{name}/aliases/{alias}"]["put"]
    (alias_pattern,) = [p["schema"]["pattern"] for p in alias_route["parameters"] if p["name"] == "alias"]
    body = document["components"]["schemas"]["CreateModelBody"]["properties"]["name"]
    assert body["pattern"] == pattern
    assert [bool(re.search(pattern, n)) for n in ("churn", "a.b_c-1", "-x", "a b", "x" * 129)] == [
        True, True, False, False, False
    ]  # fmt: skip
    assert [bool(re.search(alias_pattern, a)) for a in ("champion", "9x", "a@b")] == [True, False, False]

    response = client.post("/api/v1/models", json={"name": "a b"})
    assert (response.status_code, response.json()["error"]["code"]) == (400, "INVALID_NAME")
    response = client.put("/api/v1/models/churn/aliases/9x", json={"version": 1})
    assert (response.status_code, response.json()["error"]["code"]) == (400, "INVALID_ALIAS")
