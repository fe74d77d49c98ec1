"""Compile ``search_logged_models`` conditions and sort keys (``registry.logged_model_filter``) to SQL.

Every key and value is a bound parameter. Semantics follow ``metadata.search`` (versions and models):

* attributes compare the column; ``!=`` and ``NOT IN`` on a nullable one (``model_type``, ``source_run_id``)
  also match NULL, so that they are the exact complement of ``=`` and ``IN``;
* tags and params are correlated ``EXISTS`` on their primary key ``(model_id, key)``: ``!=`` and ``NOT IN``
  ask the opposite, so a model lacking the tag matches ``tags.team != 'a'``;
* metrics compare a model's latest value like SQL numbers: a model without the metric (or whose latest
  value is NaN) matches no comparison, ``!=`` included;
* sorting puts models lacking the value last in both directions, then, as MLflow does, newest first and
  by model id, so that offset pages never repeat or skip a model.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Table, exists, not_, or_, select

from modelreg.metadata.search_like import ESCAPE, LikeExactCase
from modelreg.metadata.tracking_tables import (
    logged_model_metrics,
    logged_model_params,
    logged_model_tags,
    logged_models,
)

if TYPE_CHECKING:
    from modelreg.registry.logged_model_filter import ModelCondition, ModelSort

__all__ = ["condition", "order"]

_COLUMNS = {
    "name": logged_models.c.name,
    "model_id": logged_models.c.id,
    "model_type": logged_models.c.model_type,
    "status": logged_models.c.status,
    "source_run_id": logged_models.c.source_run_id,
    "creation_timestamp": logged_models.c.creation_timestamp,
    "last_updated_timestamp": logged_models.c.last_updated_timestamp,
}
_ENTRIES: Mapping[str, Table] = {"tag": logged_model_tags, "param": logged_model_params}
_NEGATIVE = {"!=": "=", "NOT IN": "IN"}
_COMPARE: Mapping[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def condition(item: ModelCondition) -> ColumnElement[bool]:
    """A WHERE clause over ``logged_models`` for one condition."""
    if item.kind == "attribute":
        column = _COLUMNS[item.key]
        test = _test(column, item.op, item.value)
        return or_(column.is_(None), test) if column.nullable and item.op in _NEGATIVE else test
    if item.kind == "metric":
        m = logged_model_metrics
        return exists().where(
            m.c.model_id == logged_models.c.id,
            m.c.key == item.key,
            ~m.c.is_nan,
            _test(m.c.value, item.op, item.value),
        )
    table = _ENTRIES[item.kind]
    op = _NEGATIVE.get(item.op, item.op)
    found = exists().where(
        table.c.model_id == logged_models.c.id, table.c.key == item.key, _test(table.c.value, op, item.value)
    )
    return not_(found) if item.op in _NEGATIVE else found


def order(keys: tuple[ModelSort, ...]) -> list[ColumnElement[Any]]:
    """ORDER BY clauses: the keys (missing values last), then creation time (newest first) and model id."""
    clauses: list[ColumnElement[Any]] = []
    for key in keys:
        value = _COLUMNS[key.key] if key.kind == "attribute" else _latest_metric(key.key)
        clauses += [value.is_(None).asc(), value.desc() if key.descending else value.asc()]
    named = {key.key for key in keys if key.kind == "attribute"}
    if "creation_timestamp" not in named:
        clauses.append(logged_models.c.creation_timestamp.desc())
    if "model_id" not in named:
        clauses.append(logged_models.c.id.asc())
    return clauses


def _latest_metric(key: str) -> Any:
    m = logged_model_metrics
    query = select(m.c.value).where(m.c.model_id == logged_models.c.id, m.c.key == key, ~m.c.is_nan)
    return query.scalar_subquery()


def _test(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    if op == "IN":
        found: ColumnElement[bool] = column.in_(list(value))
        return found
    if op == "NOT IN":
        absent: ColumnElement[bool] = column.not_in(list(value))
        return absent
    if op == "LIKE":
        return LikeExactCase(column, value)
    if op == "ILIKE":
        result: ColumnElement[bool] = column.ilike(value, escape=ESCAPE)
        return result
    return _COMPARE[op](column, value)
