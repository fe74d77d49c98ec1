"""Validation of user-chosen names: models, aliases, tag/metric/param keys and values.

Every check raises an ``InvalidInput`` subclass whose message quotes the bad value and says what is allowed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from modelreg.errors import InvalidAlias, InvalidInput, InvalidMetadata, InvalidName
from modelreg.types import STAGES, Stage

__all__ = [
    "ALIAS_PATTERN",
    "KEY_PATTERN",
    "MAX_DESCRIPTION",
    "MAX_KEY",
    "MAX_TAG_VALUE",
    "MODEL_NAME_PATTERN",
    "check_alias",
    "check_description",
    "check_instant",
    "check_metrics",
    "check_model_name",
    "check_stage",
    "check_strings",
]

# The patterns as text too: the REST API's OpenAPI document declares them (anchored) for its parameters.
MODEL_NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
# Aliases share MLflow's alphabet (so MLflow clients can use them) but must start with a letter, so that
# they can never be confused with a version number or a digest in 'name@alias'.
ALIAS_PATTERN = r"[A-Za-z][A-Za-z0-9_-]{0,254}"
KEY_PATTERN = r"[A-Za-z0-9_][A-Za-z0-9_.:/ -]{0,249}"
_MODEL_NAME = re.compile(MODEL_NAME_PATTERN)
_ALIAS = re.compile(ALIAS_PATTERN)
_RESERVED_ALIAS = re.compile(r"latest|v\d+|sha256", re.IGNORECASE)
_KEY = re.compile(KEY_PATTERN)

MAX_KEY = 250
MAX_TAG_VALUE = 5000  # tags are labels, not documents; descriptions and model cards hold prose
MAX_PARAM_VALUE = 6000
MAX_DESCRIPTION = 65536
MAX_ENTRIES = 1000  # per kind (metrics, params, tags) on one version


def check_model_name(name: Any) -> str:
    if not isinstance(name, str) or not _MODEL_NAME.fullmatch(name):
        raise InvalidName(
            f"invalid model name {str(name)[:200]!r}: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def check_alias(alias: Any) -> str:
    if not isinstance(alias, str) or not _ALIAS.fullmatch(alias):
        raise InvalidAlias(
            f"invalid alias {str(alias)[:300]!r}: "
            "use 1-255 letters, digits, '_' or '-', starting with a letter"
        )
    if _RESERVED_ALIAS.fullmatch(alias):
        raise InvalidAlias(f"invalid alias {alias!r}: 'latest', 'sha256' and 'v<number>' are reserved")
    return alias


def check_stage(stage: Any) -> Stage:
    if stage not in STAGES:
        raise InvalidMetadata(f"invalid stage {str(stage)[:40]!r}: expected one of {', '.join(STAGES)}")
    result: Stage = stage
    return result


def _check_key(kind: str, key: Any) -> str:
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise InvalidMetadata(
            f"invalid {kind} key {str(key)[:300]!r}: "
            f"use 1-{MAX_KEY} letters, digits, '_', '.', '-', ':', '/' "
            "or spaces, starting with a letter, digit or '_'"
        )
    return key


def check_strings(kind: str, values: Mapping[str, Any] | None, *, max_value: int) -> dict[str, str]:
    """Validate tag or param mappings: keys by the key rule, values strings up to ``max_value`` chars."""
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise InvalidMetadata(f"{kind}s must be a mapping of strings, got {type(values).__name__}")
    if len(values) > MAX_ENTRIES:
        raise InvalidMetadata(f"too many {kind}s: {len(values)} (at most {MAX_ENTRIES})")
    result: dict[str, str] = {}
    for key, value in values.items():
        _check_key(kind, key)
        if not isinstance(value, str):
            raise InvalidMetadata(f"{kind} {key!r} must be a string, got {type(value).__name__}")
        if len(value) > max_value or "\x00" in value:
            raise InvalidMetadata(
                f"{kind} {key!r} value is too long or holds NUL: {len(value)} chars (at most {max_value})"
            )
        result[key] = value
    return result


def check_metrics(values: Mapping[str, Any] | None) -> dict[str, float]:
    """Metrics are finite numbers; NaN and infinities cannot be compared or ordered, so they are refused."""
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise InvalidMetadata(f"metrics must be a mapping of numbers, got {type(values).__name__}")
    if len(values) > MAX_ENTRIES:
        raise InvalidMetadata(f"too many metrics: {len(values)} (at most {MAX_ENTRIES})")
    result: dict[str, float] = {}
    for key, value in values.items():
        _check_key("metric", key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidMetadata(f"metric {key!r} must be a number, got {type(value).__name__}")
        if not math.isfinite(value):
            raise InvalidMetadata(f"metric {key!r} is not a finite number: {value}")
        result[key] = float(value)
    return result


def check_description(text: Any) -> str:
    if not isinstance(text, str):
        raise InvalidMetadata(f"description must be a string, got {type(text).__name__}")
    if len(text) > MAX_DESCRIPTION or "\x00" in text:
        raise InvalidMetadata(
            f"description is too long or holds NUL: {len(text)} chars (at most {MAX_DESCRIPTION})"
        )
    return text


def check_instant(value: object, what: str = "at") -> datetime:
    """A timezone-aware instant, from a datetime or an ISO 8601 string ('2026-03-01T12:00:00Z'), in UTC."""
    moment = value
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            moment = None
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput(
            f"invalid {what} {str(value)[:60]!r}: expected an ISO 8601 time with a timezone, "
            "e.g. 2026-03-01T12:00:00Z"
        )
    return moment.astimezone(UTC)
