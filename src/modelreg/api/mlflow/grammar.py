"""MLflow's own, narrower search grammar, enforced on MLflow's surface.

The registry parses a superset of MLflow's filter language (OR, parentheses, stages, metrics, timestamps…:
``registry.filters``). Through MLflow's routes only what MLflow's server takes is taken, so a filter that
MLflow refuses with INVALID_PARAMETER_VALUE is refused here too, and code written against modelreg keeps
working against MLflow (``mlflow/utils/search_utils.py``, ``store/model_registry/sqlalchemy_store.py``):

    registered models   name: = != LIKE ILIKE IN NOT IN        tags.<key>: = != LIKE ILIKE
                        order_by: name, timestamp / last_updated_timestamp
    model versions      name, run_id: = != LIKE ILIKE IN NOT IN   source_path: = != LIKE ILIKE
                        version_number: = != < <= > >= (an integer)   tags.<key>: = != LIKE ILIKE
                        order_by: name, version_number, creation_timestamp, last_updated_timestamp

Comparisons join with AND only; parentheses only hold IN lists. ``source_path`` reaches this module
already rewritten to its reserved tag (``search.version_filter``), whose operators are source_path's.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from modelreg.errors import InvalidFilter
from modelreg.registry.filter_tokens import tokenize
from modelreg.registry.filters import And, Comparison, Expr, Or, Target, parse_filter, parse_order_by

__all__ = ["check_filter", "check_order_by"]

_STRING = frozenset({"=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"})
_NUMBER = frozenset({"=", "!=", "<", "<=", ">", ">="})
_TAG = frozenset({"=", "!=", "LIKE", "ILIKE"})

# Canonical attribute names (``filter_fields.ALIASES`` resolved: version_number is "version").
_ATTRIBUTES: dict[Target, dict[str, frozenset[str]]] = {
    "models": {"name": _STRING},
    "versions": {"name": _STRING, "run_id": _STRING, "version": _NUMBER},
}
_ORDER_KEYS: dict[Target, frozenset[str]] = {
    "models": frozenset({"name", "updated_at"}),  # MLflow's "timestamp" and "last_updated_timestamp"
    "versions": frozenset({"name", "version", "created_at", "updated_at"}),
}
_MLFLOW_KEYS: dict[Target, str] = {
    "models": "name, tags.<key>",
    "versions": "name, run_id, source_path, version_number, tags.<key>",
}


def check_filter(text: str | None, *, target: Target) -> None:
    """Refuse (``InvalidFilter``) what MLflow's server refuses; the registry then runs the filter as is."""
    if text is None or not text.strip():
        return
    _check_parentheses(text)
    expr = parse_filter(text, target=target)
    if expr is not None:
        _check(expr, target)


def check_order_by(items: Sequence[str], *, target: Target) -> None:
    """MLflow's sort keys only, each at most once."""
    seen: set[str] = set()
    for index, key in enumerate(parse_order_by(items, target=target)):
        field = key.field
        if field.kind != "attribute" or field.key not in _ORDER_KEYS[target]:
            raise InvalidFilter(
                f"Invalid order by key in {items[index][:100]!r}: MLflow sorts {target} by "
                f"{_order_help(target)}",
                details={"position": 0},
            )
        if field.key in seen:
            raise InvalidFilter(f"`order_by` contains duplicate fields: {list(items)[:16]}")
        seen.add(field.key)


def _check(expr: Expr, target: Target) -> None:
    if isinstance(expr, Or):
        raise InvalidFilter(
            "Invalid clause(s) in filter string: OR (MLflow's filters join comparisons with AND)"
        )
    if isinstance(expr, And):
        for term in expr.terms:
            _check(term, target)
        return
    _check_comparison(expr, target)


def _check_comparison(comparison: Comparison, target: Target) -> None:
    field, op = comparison.field, comparison.op
    if field.kind == "tag":
        allowed = _TAG
    elif field.kind == "attribute" and field.key in _ATTRIBUTES[target]:
        allowed = _ATTRIBUTES[target][field.key]
    else:
        label = f"{field.kind}s.{field.key}" if field.kind != "attribute" else field.key
        raise InvalidFilter(
            f"Invalid attribute key '{label}' specified: MLflow filters {target} on {_MLFLOW_KEYS[target]}"
        )
    if op not in allowed:
        raise InvalidFilter(f"Invalid comparator '{op}' for {field.key!r}: expected one of {sorted(allowed)}")


def _check_parentheses(text: str) -> None:
    """MLflow's parser takes a parenthesis only as an IN list."""
    tokens = tokenize(text)
    for before, token in itertools.pairwise(tokens):
        if token.kind == "(" and not (before.kind == "word" and str(before.value).upper() == "IN"):
            raise InvalidFilter(
                f"Invalid clause(s) in filter string at position {token.pos}: parentheses only hold IN lists"
            )
    if tokens and tokens[0].kind == "(":
        raise InvalidFilter(
            "Invalid clause(s) in filter string at position 0: parentheses only hold IN lists"
        )


def _order_help(target: Target) -> str:
    if target == "models":
        return "name, timestamp or last_updated_timestamp"
    return "name, version_number, creation_timestamp or last_updated_timestamp"
