"""Logged model rows: MLflow 3's logged models with their params, tags and latest metrics, and their search.

``logged_models(ids)`` costs two queries for any number of models: the rows, then one ``UNION ALL`` of every
param, tag and metric of the page. The search is compiled by ``logged_model_search`` (bound parameters only).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import (
    Connection,
    Float,
    Integer,
    Table,
    Text,
    bindparam,
    cast,
    insert,
    literal_column,
    null,
    select,
    union_all,
    update,
)
from sqlalchemy.types import BigInteger

from modelreg.metadata import logged_model_search as search
from modelreg.metadata.metric_rows import keep_latest, metric, stored_flag
from modelreg.metadata.tracking_protocol import NewLoggedModel, StoredMetric
from modelreg.metadata.tracking_tables import (
    logged_model_metrics,
    logged_model_params,
    logged_model_tags,
    logged_models,
)
from modelreg.types import LoggedModel, Metric

if TYPE_CHECKING:
    from modelreg.registry.logged_model_filter import ModelFilter, ModelOrder

__all__ = ["LoggedModelRows"]

_PARAM, _TAG, _METRIC = range(3)


def _children() -> Any:
    def part(kind: int, table: Table, values: tuple[Any, Any, Any, Any]) -> Any:
        text, number, first, second = values
        return select(
            literal_column(str(kind), Integer).label("kind"),
            table.c.model_id.label("model_id"),
            table.c.key.label("name"),
            text.label("text"),
            number.label("number"),
            first.label("first"),
            second.label("second"),
        ).where(table.c.model_id.in_(bindparam("ids", expanding=True)))

    no_number, no_int = cast(null(), Float), cast(null(), BigInteger)
    p, t, m = logged_model_params, logged_model_tags, logged_model_metrics
    union = union_all(
        part(_PARAM, p, (p.c.value, no_number, no_int, no_int)),
        part(_TAG, t, (t.c.value, no_number, no_int, no_int)),
        part(_METRIC, m, (cast(m.c.is_nan, Text), m.c.value, m.c.timestamp, m.c.step)),
    )
    columns = union.selected_columns
    return union.order_by(columns.kind, columns.model_id, columns.name)


_CHILDREN: Final = _children()


@dataclass
class _Children:
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: list[Metric] = field(default_factory=list)


class LoggedModelRows:
    _c: Connection
    _insert: Callable[[Table], Any]

    def insert_logged_model(self, model: NewLoggedModel) -> None:
        row = {
            "id": model.model_id,
            "experiment_id": model.experiment_id,
            "name": model.name,
            "artifact_location": model.artifact_location,
            "creation_timestamp": model.at,
            "last_updated_timestamp": model.at,
            "model_type": model.model_type,
            "source_run_id": model.source_run_id,
            "status": "PENDING",
            "status_message": None,
            "lifecycle_stage": "active",
            "created_by": model.actor,
        }
        self._c.execute(insert(logged_models).values(**row))
        for table, entries in ((logged_model_params, model.params), (logged_model_tags, model.tags)):
            if entries:
                rows = [{"model_id": model.model_id, "key": k, "value": v} for k, v in entries.items()]
                self._c.execute(insert(table), rows)

    def logged_models(self, model_ids: Sequence[str]) -> list[LoggedModel]:
        if not model_ids:
            return []
        ids = list(model_ids)
        rows = {
            row.id: row for row in self._c.execute(select(logged_models).where(logged_models.c.id.in_(ids)))
        }
        if not rows:
            return []
        children: dict[str, _Children] = defaultdict(_Children)
        for kind, owner, name, text, number, first, second in self._c.execute(_CHILDREN, {"ids": ids}):
            entry = children[owner]
            if kind == _PARAM:
                entry.params[name] = text
            elif kind == _TAG:
                entry.tags[name] = text
            else:
                entry.metrics.append(metric(name, float(number or 0.0), stored_flag(text), first, second))
        return [_logged_model(rows[model_id], children[model_id]) for model_id in ids if model_id in rows]

    def lock_logged_model(self, model_id: str) -> bool:
        query = select(logged_models.c.id).where(logged_models.c.id == model_id).with_for_update()
        return self._c.execute(query).first() is not None

    def existing_logged_models(self, model_ids: Collection[str]) -> set[str]:
        if not model_ids:
            return set()
        query = select(logged_models.c.id).where(logged_models.c.id.in_(list(model_ids)))
        return set(self._c.execute(query).scalars())

    def finalize_logged_model(self, model_id: str, status: str, *, at: int) -> None:
        where = logged_models.c.id == model_id
        self._c.execute(update(logged_models).where(where).values(status=status, last_updated_timestamp=at))

    def set_logged_model_tags(self, model_id: str, tags: Mapping[str, str], *, at: int) -> None:
        if tags:
            statement = self._insert(logged_model_tags)
            statement = statement.on_conflict_do_update(
                index_elements=["model_id", "key"], set_={"value": statement.excluded.value}
            )
            self._c.execute(
                statement, [{"model_id": model_id, "key": k, "value": v} for k, v in tags.items()]
            )
        self._touch_logged_model(model_id, at)

    def log_logged_model_metrics(
        self, model_id: str, metrics: Sequence[StoredMetric], *, run_id: str | None, at: int
    ) -> None:
        keep_latest(self, logged_model_metrics, "model_id", model_id, metrics, extra={"run_id": run_id})
        self._touch_logged_model(model_id, at)

    def search_logged_models(
        self,
        experiment_ids: Sequence[int],
        conditions: ModelFilter,
        order: ModelOrder,
        *,
        limit: int,
        offset: int,
    ) -> list[str]:
        query = select(logged_models.c.id).where(
            logged_models.c.experiment_id.in_(list(experiment_ids)),
            logged_models.c.lifecycle_stage == "active",
            *(search.condition(item) for item in conditions),
        )
        query = query.order_by(*search.order(order)).limit(limit).offset(offset)
        return list(self._c.execute(query).scalars())

    def _touch_logged_model(self, model_id: str, at: int) -> None:
        where = logged_models.c.id == model_id
        self._c.execute(update(logged_models).where(where).values(last_updated_timestamp=at))


def _logged_model(row: Any, children: _Children) -> LoggedModel:
    return LoggedModel(
        model_id=row.id,
        experiment_id=str(row.experiment_id),
        name=row.name,
        artifact_location=row.artifact_location,
        creation_timestamp=row.creation_timestamp,
        last_updated_timestamp=row.last_updated_timestamp,
        model_type=row.model_type,
        source_run_id=row.source_run_id,
        status=row.status,
        status_message=row.status_message,
        tags=children.tags,
        params=children.params,
        metrics=tuple(children.metrics),
    )
