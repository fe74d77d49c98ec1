"""Validation of lineage and signature documents given at push time."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelreg.errors import InvalidMetadata
from modelreg.registry.manifest import canonical_json
from modelreg.types import Dataset, Lineage

__all__ = ["MAX_DOCUMENT", "check_lineage", "check_signature"]

MAX_DOCUMENT = 1024 * 1024  # canonical JSON bytes of a signature or lineage document
_MAX_TEXT = 2048
_LINEAGE_KEYS = {"run_id", "code", "datasets", "parents", "environment"}
_DATASET_KEYS = {"name", "uri", "digest", "role"}


def _text(where: str, value: Any, *, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > _MAX_TEXT or "\x00" in value:
        raise InvalidMetadata(f"lineage {where} must be a non-empty string of at most {_MAX_TEXT} characters")
    return value


def _string_map(where: str, value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise InvalidMetadata(f"lineage {where} must be a mapping of strings")
    return {key: str(_text(f"{where}.{key}", item, required=True)) for key, item in value.items()}


def _dataset(index: int, value: Any) -> Dataset:
    if not isinstance(value, Mapping) or not set(value) <= _DATASET_KEYS:
        raise InvalidMetadata(
            f"lineage datasets[{index}] must be a mapping with keys {sorted(_DATASET_KEYS)}"
        )
    name = _text(f"datasets[{index}].name", value.get("name"), required=True)
    return Dataset(
        name=str(name),
        uri=_text(f"datasets[{index}].uri", value.get("uri")),
        digest=_text(f"datasets[{index}].digest", value.get("digest")),
        role=_text(f"datasets[{index}].role", value.get("role")),
    )


def check_lineage(value: Any) -> Lineage:
    """A validated ``Lineage``; ``parents`` stay as given (references), resolved by the caller."""
    if value is None:
        return Lineage()
    if isinstance(value, Lineage):
        value = value.to_dict()
    if not isinstance(value, Mapping):
        raise InvalidMetadata(f"lineage must be a mapping, got {type(value).__name__}")
    unknown = set(value) - _LINEAGE_KEYS
    if unknown:
        raise InvalidMetadata(f"unknown lineage keys {sorted(unknown)}: expected {sorted(_LINEAGE_KEYS)}")
    datasets = value.get("datasets") or []
    parents = value.get("parents") or []
    if not isinstance(datasets, list | tuple) or not isinstance(parents, list | tuple):
        raise InvalidMetadata("lineage datasets and parents must be lists")
    if len(datasets) > 1000 or len(parents) > 100:
        raise InvalidMetadata("lineage lists too many datasets (at most 1000) or parents (at most 100)")
    lineage = Lineage(
        run_id=_text("run_id", value.get("run_id")),
        code=_string_map("code", value.get("code")),
        datasets=tuple(_dataset(i, d) for i, d in enumerate(datasets)),
        parents=tuple(str(_text(f"parents[{i}]", p, required=True)) for i, p in enumerate(parents)),
        environment=_string_map("environment", value.get("environment")),
    )
    if len(canonical_json(lineage.to_dict())) > MAX_DOCUMENT:
        raise InvalidMetadata(f"lineage is larger than {MAX_DOCUMENT} bytes")
    return lineage


def check_signature(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidMetadata(
            f"signature must be a mapping (e.g. inputs/outputs), got {type(value).__name__}"
        )
    try:
        size = len(canonical_json(value))
    except (TypeError, ValueError) as error:
        raise InvalidMetadata(f"signature is not JSON-serialisable with finite numbers: {error}") from None
    if size > MAX_DOCUMENT:
        raise InvalidMetadata(f"signature is larger than {MAX_DOCUMENT} bytes")
    return dict(value)
