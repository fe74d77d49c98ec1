"""User input that only the CLI sees in this form: ``KEY=VALUE`` options and JSON files.

Everything here runs before the registry is opened, so bad input stores nothing (and does not even create
an embedded registry). Errors are the SDK's own classes, so they print and exit like every other error.
"""

from __future__ import annotations

import json
import math
import re
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelreg.errors import InvalidInput, InvalidMetadata

if TYPE_CHECKING:
    from modelreg.types import Dataset, Lineage

__all__ = [
    "duration_or_none",
    "parse_duration",
    "parse_lineage",
    "parse_metrics",
    "parse_pairs",
    "parse_size",
    "read_json_object",
]

_LINEAGE_FIELDS = ("run_id", "code", "datasets", "parents", "environment")
_DATASET_FIELDS = ("name", "uri", "digest", "role")
_DURATION = re.compile(r"([1-9][0-9]{0,5})([mhdw])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """``30d``, ``12h``, ``90m`` or ``2w``; ``InvalidInput`` otherwise."""
    duration = duration_or_none(text)
    if duration is None:
        raise InvalidInput(f"invalid duration {text[:80]!r}: use 30d, 12h, 90m or 2w")
    return duration


def duration_or_none(text: str) -> timedelta | None:
    matched = _DURATION.fullmatch(text.strip())
    return None if matched is None else timedelta(**{_UNITS[matched.group(2)]: int(matched.group(1))})


def parse_size(text: str) -> int:
    """Bytes, or a number with a decimal (``500MB``) or binary (``20GiB``) unit, as settings take them."""
    from modelreg.settings import parse_size as size  # here: pydantic is not imported for --help

    try:
        return size(text)
    except ValueError as error:
        raise InvalidInput(str(error)) from None


def parse_pairs(values: list[str] | None, *, option: str) -> dict[str, str]:
    """``["team=ml", "owner=ana"]`` → ``{"team": "ml", "owner": "ana"}``; the value may itself hold '='."""
    pairs: dict[str, str] = {}
    for text in values or []:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"{option} {text!r}: expected KEY=VALUE")
        if key in pairs:
            raise InvalidInput(f"{option} {key!r} is given more than once")
        pairs[key] = value
    return pairs


def parse_metrics(values: list[str] | None) -> dict[str, float]:
    """Metrics are finite floats: ``--metric auc=0.91``."""
    metrics: dict[str, float] = {}
    for key, text in parse_pairs(values, option="--metric").items():
        try:
            value = float(text)
        except ValueError:
            raise InvalidMetadata(f"metric {key!r} is not a number: {text!r}") from None
        if not math.isfinite(value):
            raise InvalidMetadata(f"metric {key!r} is not a finite number: {text}")
        metrics[key] = value
    return metrics


def read_json_object(path: Path, *, what: str) -> dict[str, Any]:
    """Read a JSON file that must hold one object, e.g. ``--lineage lineage.json``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(f"{what} file {str(path)!r} not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInput(f"{what} file {str(path)!r} cannot be read: {error}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInput(f"{what} file {str(path)!r} is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{what} file {str(path)!r} must hold a JSON object, not {type(data).__name__}")
    return data


def parse_lineage(data: dict[str, Any]) -> Lineage:
    """A lineage JSON object (the shape ``show --json`` prints under "lineage") → ``Lineage``."""
    from modelreg.types import Lineage  # modelreg.types costs --help ~10 ms

    _check_fields(data, _LINEAGE_FIELDS, where="lineage")
    return Lineage(
        run_id=_optional_str(data.get("run_id"), where="lineage.run_id"),
        code=_str_map(data.get("code", {}), where="lineage.code"),
        datasets=tuple(_dataset(item, index) for index, item in enumerate(_list(data, "datasets"))),
        parents=tuple(_str(item, where="lineage.parents[]") for item in _list(data, "parents")),
        environment=_str_map(data.get("environment", {}), where="lineage.environment"),
    )


def _dataset(item: object, index: int) -> Dataset:
    from modelreg.types import Dataset  # see parse_lineage

    where = f"lineage.datasets[{index}]"
    if not isinstance(item, dict):
        raise InvalidMetadata(f"{where} must be an object with a 'name'")
    _check_fields(item, _DATASET_FIELDS, where=where)
    fields = {key: _optional_str(item.get(key), where=f"{where}.{key}") for key in _DATASET_FIELDS}
    name = fields.pop("name")
    if not name:
        raise InvalidMetadata(f"{where} needs a 'name'")
    return Dataset(name=name, **fields)


def _check_fields(data: dict[str, Any], allowed: tuple[str, ...], *, where: str) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise InvalidMetadata(f"unknown field {unknown[0]!r} in {where} (expected: {', '.join(allowed)})")


def _list(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise InvalidMetadata(f"lineage.{key} must be a list")
    return value


def _str_map(value: object, *, where: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise InvalidMetadata(f"{where} must be an object of strings")
    return {_str(key, where=where): _str(item, where=f"{where}.{key}") for key, item in value.items()}


def _optional_str(value: object, *, where: str) -> str | None:
    return None if value is None else _str(value, where=where)


def _str(value: object, *, where: str) -> str:
    if not isinstance(value, str):
        raise InvalidMetadata(f"{where} must be a string, not {json.dumps(value)}")
    return value
