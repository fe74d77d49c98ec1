"""The ``name`` and ``version`` fields of MLflow's registry requests, read as MLflow's store reads them.

A model name is checked before it becomes a registry target: the registry reads ``name/3`` or ``name@x`` as
a version reference, so an MLflow model "name" must never be able to smuggle one in (``check_model_name``).

A version is a string holding an integer (``"3"``). Not an integer: INVALID_PARAMETER_VALUE, as MLflow's
``_validate_model_version``; an integer no version can have (0, -1, > 2³¹-1): RESOURCE_DOES_NOT_EXIST, as
MLflow finds no such row. A soft-deleted version is gone for MLflow (its store filters
``Deleted_Internal``): RESOURCE_DOES_NOT_EXIST too.
"""

from __future__ import annotations

from modelreg.api.mlflow.requests import Message
from modelreg.errors import InvalidInput, VersionNotFound
from modelreg.registry.names import check_model_name
from modelreg.registry.refs import MAX_VERSION
from modelreg.registry.service import Registry
from modelreg.types import ModelVersion

__all__ = ["live_version", "model_name", "version_number", "version_of"]


def model_name(message: Message, *, field: str = "name") -> str:
    return check_model_name(message.required_string(field))


def version_number(message: Message, name: str) -> int:
    """The request's ``version`` of model ``name``, a number a version can have."""
    text = message.required_string("version")
    try:
        number = int(text.strip())
    except ValueError:
        raise InvalidInput(
            f"Parameter 'version' must be an integer, got {text[:40]!r}.", details={"parameter": "version"}
        ) from None
    if not 1 <= number <= MAX_VERSION:
        raise _not_found(name, number)
    return number


def version_of(registry: Registry, message: Message) -> ModelVersion:
    """The live version the request's ``name`` and ``version`` name."""
    name = model_name(message)
    return live_version(registry.get_version(f"{name}/{version_number(message, name)}"))


def live_version(version: ModelVersion) -> ModelVersion:
    if version.deleted:
        raise _not_found(version.name, version.version)
    return version


def _not_found(name: str, number: int) -> VersionNotFound:
    return VersionNotFound(f"Model Version (name={name}, version={number}) not found")
