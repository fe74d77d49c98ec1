"""What can be searched and sorted: the fields of each target, their MLflow aliases, operators and values.

The parser resolves every key here once, so the compiled SQL only ever sees canonical attribute names and
values of the right type (an ``int`` for ``version``, a finite ``float`` for a metric, a known stage…).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from modelreg.types import STAGES

__all__ = [
    "ALIASES",
    "ATTRIBUTES",
    "KEYED",
    "MEMBERSHIP",
    "PREFIXES",
    "Kind",
    "Scalar",
    "Spec",
    "Target",
    "accepted_names",
    "attribute_hint",
    "canonical_attribute",
    "check_value",
    "prefix_hint",
    "timestamp_range",
]

Kind = Literal["attribute", "tag", "metric", "param"]
Target = Literal["versions", "models"]
Scalar = str | float | int
ValueKind = Literal["string", "integer", "timestamp", "stage", "number"]

EQUALITY = frozenset({"=", "!="})
ORDERING = frozenset({"<", "<=", ">", ">="})
PATTERN = frozenset({"LIKE", "ILIKE"})
MEMBERSHIP = frozenset({"IN", "NOT IN"})
_OP_ORDER = ("=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE", "IN", "NOT IN")


@dataclass(frozen=True, slots=True)
class Spec:
    """How one field is compared: the type of its values, the operators it takes, whether it sorts."""

    value: ValueKind
    ops: frozenset[str]
    sortable: bool = True

    def op_list(self) -> str:
        return ", ".join(op for op in _OP_ORDER if op in self.ops)


_TEXT = Spec("string", EQUALITY | PATTERN | MEMBERSHIP)
_TIME = Spec("timestamp", EQUALITY | ORDERING)
# A version has several aliases and datasets: they filter (does any match?) but give no single sort value.
_MULTI = Spec("string", EQUALITY | PATTERN | MEMBERSHIP, sortable=False)

ATTRIBUTES: Mapping[Target, Mapping[str, Spec]] = {
    "versions": {
        "alias": _MULTI,
        "created_at": _TIME,
        "created_by": _TEXT,
        "dataset": _MULTI,
        "description": _TEXT,
        "digest": _TEXT,
        "name": _TEXT,
        "run_id": _TEXT,
        "stage": Spec("stage", EQUALITY | MEMBERSHIP),
        "updated_at": _TIME,
        "version": Spec("integer", EQUALITY | ORDERING | MEMBERSHIP),
    },
    "models": {
        "created_at": _TIME,
        "created_by": _TEXT,
        "description": _TEXT,
        "name": _TEXT,
        "updated_at": _TIME,
    },
}

# MLflow's names for our attributes, so MLflow filters and order_by clauses work unchanged. ``timestamp``
# is MLflow's order_by key for registered models, where it means the last update.
ALIASES: Mapping[str, str] = {
    "creation_timestamp": "created_at",
    "current_stage": "stage",
    "last_updated_timestamp": "updated_at",
    "timestamp": "updated_at",
    "user_id": "created_by",
    "version_number": "version",
}

PREFIXES: Mapping[str, Kind] = {
    "attribute": "attribute",
    "attributes": "attribute",
    "metric": "metric",
    "metrics": "metric",
    "param": "param",
    "params": "param",
    "tag": "tag",
    "tags": "tag",
}

KEYED: Mapping[Kind, Spec] = {
    "metric": Spec("number", EQUALITY | ORDERING),
    "param": _TEXT,
    "tag": _TEXT,
}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_QUOTED_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")


def canonical_attribute(name: str, target: Target) -> str | None:
    """Our name for attribute ``name`` (MLflow's aliases resolved), or None if ``target`` has no such one."""
    canonical = ALIASES.get(name.lower(), name.lower())
    return canonical if canonical in ATTRIBUTES[target] else None


def accepted_names(target: Target) -> list[str]:
    """Every attribute name ``target`` accepts, aliases included."""
    attributes = ATTRIBUTES[target]
    return sorted({*attributes, *(alias for alias, name in ALIASES.items() if name in attributes)})


def attribute_hint(target: Target) -> str:
    return f"expected one of {', '.join(ATTRIBUTES[target])}, or {prefix_hint(target)}"


def prefix_hint(target: Target) -> str:
    if target == "models":
        return "tags.<key>"
    return "tags.<key>, metrics.<key> or params.<key>"


def check_value(spec: Spec, label: str, op: str, value: Scalar) -> Scalar:
    """The canonical value of one operand, or ``ValueError`` with what was expected.

    ``label`` names the field in the message ("metrics.auc", "version").
    """
    if op in PATTERN:
        return _pattern(label, op, value)
    if spec.value == "number":
        return _number(label, value)
    if spec.value == "integer":
        return _integer(label, value)
    if spec.value == "timestamp":
        return _timestamp(label, value)
    text = _string(label, value)
    if spec.value == "stage":
        return _stage(text)
    return text


def timestamp_range(value: Scalar) -> tuple[datetime, datetime]:
    """The UTC instants ``[start, end)`` that a timestamp operand denotes, or ``ValueError``.

    An integer counts milliseconds since the epoch and stands for its whole millisecond, so a value copied
    from an MLflow response (where times are truncated to ms) compares equal to the stored microseconds.
    An ISO-8601 string is exact to the microsecond; without an offset it is read as UTC.
    """
    try:
        if isinstance(value, int) and not isinstance(value, bool):
            start = _EPOCH + timedelta(milliseconds=value)
            return start, start + timedelta(milliseconds=1)
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value)
            start = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
            return start, start + timedelta(microseconds=1)
    except (OverflowError, ValueError):
        pass
    raise ValueError(
        f"expected an ISO-8601 time or integer milliseconds since the epoch, got {_shown(value)}"
    )


def _number(label: str, value: Scalar) -> float:
    if isinstance(value, str):
        raise ValueError(f"{label} takes a number, got {_shown(value)}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{label} takes a finite number, got {_shown(value)}")
    return number


def _integer(label: str, value: Scalar) -> int:
    # MLflow compares ``version_number = '3'`` as text against its integer column, so a quoted integer is
    # accepted too; anything else (3.5, '3a') would silently match nothing there, and is an error here.
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _QUOTED_INTEGER.fullmatch(value):
        return int(value)
    raise ValueError(f"{label} takes an integer, got {_shown(value)}")


def _timestamp(label: str, value: Scalar) -> Scalar:
    if isinstance(value, float):
        raise ValueError(f"{label} takes integer milliseconds or an ISO-8601 time, got {_shown(value)}")
    timestamp_range(value)
    return value


def _string(label: str, value: Scalar) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{label} takes a quoted string, got {_shown(value)}")
    return value


def _stage(value: str) -> str:
    # MLflow spells stages 'Production', 'Staging'…; ours are lower case.
    stage = value.lower()
    if stage not in STAGES:
        raise ValueError(f"unknown stage {_shown(value)}: expected one of {', '.join(STAGES)}")
    return stage


def _pattern(label: str, op: str, value: Scalar) -> str:
    text = _string(f"{op} on {label}", value)
    # Backslash escapes the next character (as in PostgreSQL); a dangling one is an error there, and here.
    trailing = len(text) - len(text.rstrip("\\"))
    if trailing % 2:
        raise ValueError(f"{op} pattern {_shown(text)} ends with an unfinished escape '\\'")
    return text


def _shown(value: Scalar) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
