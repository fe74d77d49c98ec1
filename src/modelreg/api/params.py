"""Path parameters shared by the routes, checked before any use case runs.

``{name}`` must be a model name: the registry accepts references ('name@alias', 'name/3') wherever a target
is either a model or a version, and a path segment must never turn a model route into a version change.

``{ref}`` selects a version of that model: ``3``, ``latest``, ``@champion`` (``%40champion`` decodes to the
same) or ``@sha256:<hex>``. It becomes the SDK reference ``name/3``, ``name/latest``, ``name@champion`` or
``name@sha256:…``, which the registry parses and validates like any other reference.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Depends, Path

from modelreg.errors import InvalidReference
from modelreg.registry.names import (
    ALIAS_PATTERN,
    KEY_PATTERN,
    MODEL_NAME_PATTERN,
    check_alias,
    check_model_name,
)

__all__ = ["AliasName", "ModelName", "TagKey", "VersionRef", "model_name", "version_ref"]

_NUMBER = re.compile(r"[0-9]{1,12}")


def _documented(description: str, pattern: str | None = None) -> Any:
    """A path parameter whose pattern the OpenAPI document shows; the registry's own check still decides
    (a mismatch is its INVALID_NAME / INVALID_METADATA error, not a generic validation error)."""
    return Path(description=description, json_schema_extra={"pattern": f"^{pattern}$"} if pattern else None)


_NAME = Annotated[str, _documented("Model name.", MODEL_NAME_PATTERN)]
_REF = Annotated[str, _documented("Version selector: a number, `latest`, `@alias` or `@sha256:<hex>`.")]
TagKey = Annotated[str, _documented("Tag key (may contain '/').", KEY_PATTERN)]


def model_name(name: _NAME) -> str:
    return check_model_name(name)


def version_ref(name: _NAME, ref: _REF) -> str:
    """The SDK reference for ``{name}`` and ``{ref}``."""
    check_model_name(name)
    if ref == "latest" or _NUMBER.fullmatch(ref):
        return f"{name}/{ref}"
    if ref.startswith("@") and len(ref) > 1:
        return f"{name}{ref}"
    raise InvalidReference(
        f"invalid version selector {ref[:200]!r}: expected a number, 'latest', '@alias' or '@sha256:<hex>'"
    )


def alias_name(
    alias: Annotated[
        str, _documented("Alias, without '@' (not `latest`, `v<N>` or `sha256`).", ALIAS_PATTERN)
    ],
) -> str:
    return check_alias(alias)


ModelName = Annotated[str, Depends(model_name)]
VersionRef = Annotated[str, Depends(version_ref)]
AliasName = Annotated[str, Depends(alias_name)]
