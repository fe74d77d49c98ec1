"""``docs/api.md``, generated from the app's OpenAPI document, so the REST reference cannot drift.

python -m modelreg.api.docs docs/api.md      # rewrite the page
tests/api/test_docs.py                       # fails when the page is stale or a route is undocumented
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from modelreg.api.app import OPENAPI_URL, openapi_document

__all__ = ["Undocumented", "render_reference"]

_METHODS = ("get", "head", "post", "put", "patch", "delete")

_INTRO = f"""\
# REST API v1

Generated from the server's OpenAPI document by `python -m modelreg.api.docs docs/api.md`; do not edit.
A running server serves the same document at `{OPENAPI_URL}` and an interactive version at `/docs`.

- **Authentication.** `Authorization: Bearer mrt_…` (create tokens with `modelreg token create`). A missing,
  invalid, expired or revoked token is 401 `AUTHENTICATION_REQUIRED` with `WWW-Authenticate: Bearer`; a role
  without the permission is 403 `PERMISSION_DENIED` (roles and permissions: `modelreg.access`). While no
  active token exists, requests without one act as admin (anonymous mode, loopback only unless
  `--insecure`). `/healthz`, `/readyz`, `/metrics`, the OpenAPI document and `/docs` need no token.
- **Errors.** Every non-2xx response is `{{"error": {{"code", "message", "details"}}}}`; codes and statuses
  are listed in [errors.md](errors.md). Malformed requests are 400 `INVALID_INPUT` (details.errors lists the
  fields), unknown routes 404 `NOT_FOUND`, wrong methods 405 `METHOD_NOT_ALLOWED`, oversized bodies 413
  `PAYLOAD_TOO_LARGE` (JSON ≤ 32 MiB, chunks ≤ 64 MiB by default), anything unexpected 500 `INTERNAL_ERROR`
  with the request id.
- **Request ids.** Every response carries `X-Request-ID`: the caller's own (visible ASCII, ≤ 128 chars) or a
  new one; the server's access log (one JSON line per request) records it.
- **`{{ref}}`** selects a version of `{{name}}`: `3`, `latest`, `@champion` (or `%40champion`),
  `@sha256:<hex>`.
- **Results** are the public types' `to_dict()` (`modelreg.types`); listings are pages
  `{{"items": [...], "next_page_token": str | null}}`: pass the token back for the next page.
- **Metrics** (`/metrics`, per process): request count and latency per route template and status, bytes in
  and out, and the chunks and bytes that missing-chunks / known-files answers spared clients from sending.
"""


class Undocumented(ValueError):
    """An operation without a summary, or a parameter without a description."""


def render_reference(document: dict[str, Any] | None = None) -> str:
    document = document or openapi_document()
    lines = [_INTRO]
    for tag, operations in _by_tag(document).items():
        lines += [f"## {tag}", ""]
        for method, path, operation in operations:
            lines += _operation(method, path, operation)
    lines += ["## Schemas", ""]
    for name, schema in sorted(document.get("components", {}).get("schemas", {}).items()):
        lines += _schema(name, schema)
    return "\n".join(lines).rstrip() + "\n"


def _by_tag(document: dict[str, Any]) -> dict[str, list[tuple[str, str, dict[str, Any]]]]:
    groups: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, operations in document["paths"].items():
        for method in _METHODS:
            if method in operations:
                operation = operations[method]
                groups.setdefault(operation.get("tags", ["other"])[0], []).append((method, path, operation))
    return groups


def _operation(method: str, path: str, operation: dict[str, Any]) -> list[str]:
    summary = operation.get("description") or ""
    if not summary.strip():
        raise Undocumented(f"{method.upper()} {path}: no docstring")
    lines = [f"### `{method.upper()} {path}`", "", summary.strip(), ""]
    parameters = operation.get("parameters", [])
    if parameters:
        lines += ["| parameter | in | type | required | meaning |", "| --- | --- | --- | --- | --- |"]
        for parameter in parameters:
            lines.append(_parameter(method, path, parameter))
        lines.append("")
    body = operation.get("requestBody", {}).get("content", {})
    for media_type, content in body.items():
        lines += [f"Request body (`{media_type}`): {_type(content.get('schema', {}))}", ""]
    lines += ["| status | body |", "| --- | --- |"]
    for status, response in operation["responses"].items():
        lines.append(f"| {status} | {_response(response)} |")
    return [*lines, ""]


def _parameter(method: str, path: str, parameter: dict[str, Any]) -> str:
    meaning = parameter.get("description") or parameter.get("schema", {}).get("description")
    if not meaning:
        raise Undocumented(f"{method.upper()} {path}: parameter {parameter['name']!r} has no description")
    required = "yes" if parameter.get("required") else "no"
    kind = _type(parameter.get("schema", {}))
    return f"| `{parameter['name']}` | {parameter['in']} | {kind} | {required} | {_cell(meaning)} |"


def _response(response: dict[str, Any]) -> str:
    shapes = [_type(content.get("schema", {})) for content in response.get("content", {}).values()]
    shape = " or ".join(shape for shape in shapes if shape and shape != "any")
    description = _cell(response.get("description", ""))
    return f"{shape}: {description}" if shape else description


def _schema(name: str, schema: dict[str, Any]) -> list[str]:
    lines = [f"### {name}", ""]
    if schema.get("description"):
        lines += [_cell(schema["description"]), ""]
    properties = schema.get("properties", {})
    if properties:
        required = set(schema.get("required", ()))
        lines += ["| field | type | required | meaning |", "| --- | --- | --- | --- |"]
        for field, spec in properties.items():
            flag = "yes" if field in required else "no"
            lines.append(f"| `{field}` | {_type(spec)} | {flag} | {_cell(spec.get('description', ''))} |")
        lines.append("")
    return lines


_SCALARS = {"string": "str", "integer": "int", "number": "float", "boolean": "bool", "null": "null"}
_FORMATS = {"binary": "binary", "date-time": "datetime (ISO-8601)"}


def _type(schema: dict[str, Any]) -> str:
    """A short, readable type: `ModelVersion`, `list[str]`, `str | null`, `binary`."""
    if "$ref" in schema:
        return f"`{schema['$ref'].rsplit('/', 1)[-1]}`"
    if "anyOf" in schema:
        return " \\| ".join(_type(option) for option in schema["anyOf"])
    if "enum" in schema or "const" in schema:
        return " \\| ".join(f"`{value!r}`" for value in schema.get("enum", [schema.get("const")]))
    if schema.get("type") in ("array", "object"):
        return _container(schema)
    if "pattern" in schema:
        return f"str, `{schema['pattern']}`"
    return _FORMATS.get(schema.get("format", ""), _SCALARS.get(str(schema.get("type")), "any"))


def _container(schema: dict[str, Any]) -> str:
    if schema["type"] == "array":
        items = schema.get("items") or schema.get("prefixItems") or {}
        inner = ", ".join(_type(item) for item in items) if isinstance(items, list) else _type(items)
        return f"list[{inner}]"
    values = schema.get("additionalProperties")
    return f"map[str, {_type(values)}]" if isinstance(values, dict) and values else "object"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def main(argv: list[str]) -> None:
    target = Path(argv[1]) if len(argv) > 1 else Path("docs/api.md")
    target.write_text(render_reference(), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv)
