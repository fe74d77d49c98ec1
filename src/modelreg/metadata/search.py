"""Compile a parsed search filter (``modelreg.registry.filters``) to SQLAlchemy Core.

Every key and value the user wrote becomes a bound parameter; only our own table and column names are SQL.

Semantics, for versions (``versions`` joined to ``models`` by the caller) and models alike:

* attributes compare the column. ``!=`` and ``NOT IN`` on a nullable column (``run_id``) also match NULL,
  so that they are the exact complement of ``=`` and ``IN``.
* tags, params, aliases and datasets are correlated ``EXISTS`` over their table (tags and params find
  their row by primary key ``(version_id, key)``). A positive operator asks "is there a matching row?";
  ``!=`` and ``NOT IN`` ask the opposite, so a version lacking the tag matches ``tags.team != 'a'``. That
  is what MLflow needs for ``tags.`mlflow.prompt.is_prompt` != 'true'`` (hide prompts, keep plain models).
* metrics behave like SQL numbers: a version without the metric matches no comparison, ``!=`` included.
  The ``(key, value, version_id)`` index answers a selective metric test without touching ``versions``.
* ``dataset`` matches a lineage dataset's name, URI or digest.
* timestamps: an integer operand is a whole millisecond (see ``timestamp_range``), so ``= 1700000000123``
  matches any instant within that millisecond and ``<=`` includes all of it.
* LIKE is case-sensitive on every backend (see ``search_like``); ILIKE ignores case, ASCII-only on SQLite.
  In both, ``\\`` escapes ``%``, ``_`` or itself.

Visibility (access control): a caller whose read permission is scoped to model-name patterns
(``modelreg.access``) sees only matching models. ``visible`` compiles the patterns to ``name GLOB p`` on
SQLite (case-sensitive, as model names are) and to ``name LIKE p`` on PostgreSQL (also case-sensitive) with
``*``/``?`` translated and ``%``/``_`` escaped; the patterns are bound parameters. It is part of the query, so
paging stays exact.

Sort keys put rows without a value (a missing metric, tag, param or run id) last in both directions, by
sorting on ``value IS NULL`` first (portable, where ``NULLS LAST`` is not), and always end with a unique
tie-breaker so that offset paging never repeats or skips a row.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Column, ColumnElement, Table, and_, case, exists, false, not_, or_, select, true

from modelreg.errors import InvalidFilter
from modelreg.metadata.search_like import ESCAPE, LikeExactCase
from modelreg.metadata.tables import (
    aliases,
    model_tags,
    models,
    version_datasets,
    version_metrics,
    version_params,
    version_tags,
    versions,
)
from modelreg.registry.filter_fields import timestamp_range
from modelreg.registry.filters import And, Comparison, Expr, Field, OrderKey
from modelreg.types import STAGES

__all__ = [
    "compare",
    "model_condition",
    "model_order",
    "sort_metric_filter",
    "version_condition",
    "version_order",
    "visible",
]

_Leaf = Callable[[Comparison], ColumnElement[bool]]

_VERSION_COLUMNS: Mapping[str, Column[Any]] = {
    "name": models.c.name,
    "version": versions.c.number,
    "stage": versions.c.stage,
    "created_by": versions.c.created_by,
    "created_at": versions.c.created_at,
    "updated_at": versions.c.updated_at,
    "run_id": versions.c.run_id,
    "digest": versions.c.digest,
    "description": versions.c.description,
}
_MODEL_COLUMNS: Mapping[str, Column[Any]] = {
    key: models.c[key] for key in ("name", "description", "created_by", "created_at", "updated_at")
}
_TIMES = frozenset({"created_at", "updated_at"})
_NEGATIVE = {"!=": "=", "NOT IN": "IN"}  # each negative operator and the positive one it complements
_COMPARE: Mapping[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def visible(column: ColumnElement[str], patterns: Sequence[str], dialect: str) -> ColumnElement[bool]:
    """Names matching any of ``patterns`` (validated globs of model-name characters, '*' and '?')."""
    if dialect == "sqlite":
        return or_(false(), *(column.op("GLOB")(pattern) for pattern in patterns))
    return or_(false(), *(column.like(_like_pattern(pattern), escape="\\") for pattern in patterns))


def _like_pattern(glob: str) -> str:
    escaped = glob.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")


def version_condition(expr: Expr) -> ColumnElement[bool]:
    """A WHERE clause over ``versions`` joined to ``models`` (the caller's join)."""
    return _compile(expr, _version_comparison)


def model_condition(expr: Expr) -> ColumnElement[bool]:
    """A WHERE clause over ``models``."""
    return _compile(expr, _model_comparison)


def version_order(keys: list[OrderKey]) -> list[ColumnElement[Any]]:
    """ORDER BY clauses for versions, ending with ``models.name ASC, versions.number DESC``."""
    clauses = [clause for key in keys for clause in _sort(_version_sort_value(key.field), key.descending)]
    return [*clauses, models.c.name.asc(), versions.c.number.desc()]


def sort_metric_filter(expr: Expr | None, keys: list[OrderKey]) -> Comparison | None:
    """The filter's own comparison on the first sort key, when that key is a metric the filter requires.

    ``metrics.auc > 0.9 AND … ORDER BY metrics.auc DESC`` can then join the metric once and walk its
    (key, value) index in order, stopping after ``limit`` rows, instead of computing a correlated sort value
    for every matching version (100,000 versions: ~1 ms instead of ~400 ms on SQLite).
    """
    if not keys or keys[0].field.kind != "metric" or expr is None:
        return None
    terms = expr.terms if isinstance(expr, And) else (expr,)
    for term in terms:
        if isinstance(term, Comparison) and term.field == keys[0].field and term.op in _REQUIRES_VALUE:
            return term
    return None


_REQUIRES_VALUE = frozenset({"=", "<", "<=", ">", ">="})  # comparisons only a present metric can satisfy


def compare(column: ColumnElement[Any], comparison: Comparison) -> ColumnElement[bool]:
    """The comparison applied to another column (the joined sort metric), its value bound as a parameter."""
    return _test(column, comparison.op, comparison.value)


def model_order(keys: list[OrderKey]) -> list[ColumnElement[Any]]:
    """ORDER BY clauses for models, ending with ``models.name ASC`` (names are unique)."""
    clauses = [clause for key in keys for clause in _sort(_model_sort_value(key.field), key.descending)]
    return [*clauses, models.c.name.asc()]


def _compile(expr: Expr, leaf: _Leaf) -> ColumnElement[bool]:
    if isinstance(expr, Comparison):
        return leaf(expr)
    parts = [_compile(term, leaf) for term in expr.terms]
    if isinstance(expr, And):
        return and_(*parts) if parts else true()
    return or_(*parts) if parts else false()


def _version_comparison(comparison: Comparison) -> ColumnElement[bool]:
    field = comparison.field
    link = versions.c.id
    if field.kind == "metric":
        metric = version_metrics.c
        test = _test(metric.value, comparison.op, comparison.value)
        return exists().where(metric.version_id == link, metric.key == field.key, test)
    if field.kind in ("tag", "param"):
        table = version_tags if field.kind == "tag" else version_params
        return _keyed(table, table.c.version_id == link, comparison)
    if field.key == "alias":
        return _any_row(aliases.c.version_id == link, [aliases.c.alias], comparison)
    if field.key == "dataset":
        dataset = version_datasets.c
        return _any_row(dataset.version_id == link, [dataset.name, dataset.uri, dataset.digest], comparison)
    return _attribute(_VERSION_COLUMNS, comparison)


def _model_comparison(comparison: Comparison) -> ColumnElement[bool]:
    if comparison.field.kind == "tag":
        return _keyed(model_tags, model_tags.c.model_id == models.c.id, comparison)
    if comparison.field.kind != "attribute":
        raise InvalidFilter(f"invalid filter: models have no {comparison.field.kind}s")
    return _attribute(_MODEL_COLUMNS, comparison)


def _keyed(table: Table, link: ColumnElement[bool], comparison: Comparison) -> ColumnElement[bool]:
    return _any_row(link, [table.c.value], comparison, table.c.key == comparison.field.key)


def _any_row(
    link: ColumnElement[bool],
    columns: Sequence[ColumnElement[Any]],
    comparison: Comparison,
    *where: ColumnElement[bool],
) -> ColumnElement[bool]:
    """Does a related row match (any of ``columns``)? Negative operators ask the opposite question."""
    positive = _NEGATIVE.get(comparison.op, comparison.op)
    match = or_(*(_test(column, positive, comparison.value) for column in columns))
    found = exists().where(link, *where, match)
    return not_(found) if comparison.op in _NEGATIVE else found


def _attribute(columns: Mapping[str, Column[Any]], comparison: Comparison) -> ColumnElement[bool]:
    key = comparison.field.key
    if key not in columns:
        raise InvalidFilter(f"invalid filter: unknown attribute {key!r}")
    column = columns[key]
    if key in _TIMES:
        return _time_test(column, comparison)
    if key == "stage":
        _check_stages(comparison.value)
    test = _test(column, comparison.op, comparison.value)
    if column.nullable and comparison.op in _NEGATIVE:
        return or_(column.is_(None), test)
    return test


def _test(column: ColumnElement[Any], op: str, value: Any) -> ColumnElement[bool]:
    """``column <op> value`` with ``value`` bound as a parameter (a list of them for IN)."""
    if op == "IN":
        return column.in_(list(value))
    if op == "NOT IN":
        return column.not_in(list(value))
    if op == "LIKE":
        return LikeExactCase(column, value)
    if op == "ILIKE":
        return column.ilike(value, escape=ESCAPE)
    if op not in _COMPARE:
        raise InvalidFilter(f"invalid filter: unknown operator {op!r}")
    return _COMPARE[op](column, value)


def _time_test(column: Column[Any], comparison: Comparison) -> ColumnElement[bool]:
    try:
        start, end = timestamp_range(comparison.value)  # type: ignore[arg-type]  # a tuple raises ValueError
    except ValueError as exc:
        raise InvalidFilter(f"invalid filter: {comparison.field.key}: {exc}") from None
    tests: Mapping[str, Callable[[], ColumnElement[bool]]] = {
        "=": lambda: and_(column >= start, column < end),
        "!=": lambda: or_(column < start, column >= end),
        "<": lambda: column < start,
        "<=": lambda: column < end,
        ">": lambda: column >= end,
        ">=": lambda: column >= start,
    }
    if comparison.op not in tests:
        raise InvalidFilter(f"invalid filter: {comparison.field.key} does not support {comparison.op}")
    return tests[comparison.op]()


def _check_stages(value: Any) -> None:
    for stage in value if isinstance(value, tuple) else (value,):
        if stage not in STAGES:
            raise InvalidFilter(f"invalid filter: unknown stage {stage!r}: expected one of {STAGES}")


def _version_sort_value(field: Field) -> tuple[ColumnElement[Any], bool]:
    """What to sort on, and whether it can be NULL."""
    if field.kind == "metric":
        return _scalar(version_metrics, version_metrics.c.version_id == versions.c.id, field.key), True
    if field.kind in ("tag", "param"):
        table = version_tags if field.kind == "tag" else version_params
        return _scalar(table, table.c.version_id == versions.c.id, field.key), True
    if field.key == "stage":
        # Lifecycle order (none → staging → production → archived) rather than alphabetical.
        return case({stage: rank for rank, stage in enumerate(STAGES)}, value=versions.c.stage), False
    return _sortable_column(_VERSION_COLUMNS, field)


def _model_sort_value(field: Field) -> tuple[ColumnElement[Any], bool]:
    if field.kind == "tag":
        return _scalar(model_tags, model_tags.c.model_id == models.c.id, field.key), True
    if field.kind != "attribute":
        raise InvalidFilter(f"invalid order_by: models have no {field.kind}s")
    return _sortable_column(_MODEL_COLUMNS, field)


def _sortable_column(columns: Mapping[str, Column[Any]], field: Field) -> tuple[ColumnElement[Any], bool]:
    if field.kind != "attribute" or field.key not in columns:
        raise InvalidFilter(f"invalid order_by: cannot sort on {field.key!r}")
    column = columns[field.key]
    return column, bool(column.nullable)


def _scalar(table: Table, link: ColumnElement[bool], key: str) -> ColumnElement[Any]:
    # At most one row: (version_id | model_id, key) is the table's primary key.
    return select(table.c.value).where(link, table.c.key == key).scalar_subquery()


def _sort(value_and_nullable: tuple[ColumnElement[Any], bool], descending: bool) -> list[ColumnElement[Any]]:
    value, nullable = value_and_nullable
    direction = value.desc() if descending else value.asc()
    return [value.is_(None).asc(), direction] if nullable else [direction]
