"""Path parameters shared by the routes, checked before any use case runs.

``{name}`` must be a model name: the registry accepts references ('name@alias', 'name/3') wherever a target
is either a model or a version, and a path segment must never turn a model route into a version change.

``{ref}`` selects a version of that model: ``3``, ``latest``, ``@champion`` (``%40champion`` decodes to the
same) or ``@sha256:<hex>``. It becomes the SDK reference ``name/3``, ``name/latest``, ``name@champion`` or
``name@sha256:…``, which the registry parses and validates like any other reference.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Path

from modelreg.errors import InvalidReference
from modelreg.registry.names import check_alias, check_model_name

__all__ = ["AliasName", "ModelName", "VersionRef", "model_name", "version_ref"]

_NUMBER = re.compile(r"[0-9]{1,12}")

_NAME_DOC = "Model name."
_REF_DOC = "Version selector: a number, `latest`, `@alias` or `@sha256:<hex>`."


def model_name(name: Annotated[str, Path(description=_NAME_DOC)]) -> str:
    return check_model_name(name)


def version_ref(
    name: Annotated[str, Path(description=_NAME_DOC)], ref: Annotated[str, Path(description=_REF_DOC)]
) -> str:
    """The SDK reference for ``{name}`` and ``{ref}``."""
    check_model_name(name)
    if ref == "latest" or _NUMBER.fullmatch(ref):
        return f"{name}/{ref}"
    if ref.startswith("@") and len(ref) > 1:
        return f"{name}{ref}"
    raise InvalidReference(
        f"invalid version selector {ref[:200]!r}: expected a number, 'latest', '@alias' or '@sha256:<hex>'"
    )


def alias_name(alias: Annotated[str, Path(description="Alias, without '@'.")]) -> str:
    return check_alias(alias)


ModelName = Annotated[str, Depends(model_name)]
VersionRef = Annotated[str, Depends(version_ref)]
AliasName = Annotated[str, Depends(alias_name)]
