"""Run rows: runs, their params, tags, metrics (latest and history), dataset inputs and model links.

``runs(ids)`` costs three queries for any number of runs: the rows, one ``UNION ALL`` of every param, tag,
latest metric and model link (built once at import, as ``metadata.statements`` does for versions), and the
dataset inputs. ``log_run`` writes a whole batch in at most four statements.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import (
    BigInteger,
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

from modelreg.metadata.metric_rows import keep_latest, metric, stored_flag
from modelreg.metadata.tracking_protocol import NewRun, RunState, StoredMetric
from modelreg.metadata.tracking_tables import (
    metric_history,
    run_datasets,
    run_metrics,
    run_models,
    run_params,
    run_tags,
    runs,
)
from modelreg.types import Metric, Run, RunInput

__all__ = ["RUN_NAME_TAG", "RunRows"]

RUN_NAME_TAG = "mlflow.runName"  # MLflow mirrors a run's name in this tag; both change together
_PARAM, _TAG, _METRIC, _INPUT, _OUTPUT = range(5)


def _children() -> Any:
    def part(kind: int, table: Table, values: tuple[Any, Any, Any, Any, Any]) -> Any:
        name, text, number, first, second = values
        return select(
            literal_column(str(kind), Integer).label("kind"),
            table.c.run_id.label("run_id"),
            name.label("name"),
            text.label("text"),
            number.label("number"),
            first.label("first"),
            second.label("second"),
        ).where(table.c.run_id.in_(bindparam("ids", expanding=True)))

    no_text, no_number, no_int = cast(null(), Text), cast(null(), Float), cast(null(), BigInteger)
    p, t, m, links = run_params, run_tags, run_metrics, run_models
    is_input = links.c.direction == "input"
    union = union_all(
        part(_PARAM, p, (p.c.key, p.c.value, no_number, no_int, no_int)),
        part(_TAG, t, (t.c.key, t.c.value, no_number, no_int, no_int)),
        part(_METRIC, m, (m.c.key, cast(m.c.is_nan, Text), m.c.value, m.c.timestamp, m.c.step)),
        part(_INPUT, links, (links.c.model_id, no_text, no_number, no_int, no_int)).where(is_input),
        part(_OUTPUT, links, (links.c.model_id, no_text, no_number, links.c.step, no_int)).where(~is_input),
    )
    columns = union.selected_columns
    return union.order_by(columns.kind, columns.run_id, columns.name, columns.first)


_CHILDREN: Final = _children()
_DATASETS: Final = (
    select(run_datasets)
    .where(run_datasets.c.run_id.in_(bindparam("ids", expanding=True)))
    .order_by(run_datasets.c.run_id, run_datasets.c.name, run_datasets.c.digest)
)


@dataclass
class _Children:
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: list[Metric] = field(default_factory=list)
    inputs: list[RunInput] = field(default_factory=list)
    model_inputs: list[str] = field(default_factory=list)
    outputs: list[tuple[str, int]] = field(default_factory=list)

    def add(self, row: Any) -> None:
        """One row of ``_CHILDREN``: (kind, run id, name, text, number, first, second)."""
        kind, _, name, text, number, first, second = row
        if kind == _PARAM:
            self.params[name] = str(text)
        elif kind == _TAG:
            self.tags[name] = str(text)
        elif kind == _METRIC:
            self.metrics.append(metric(name, float(number or 0.0), stored_flag(text), first, second))
        elif kind == _INPUT:
            self.model_inputs.append(name)
        else:
            self.outputs.append((name, int(first)))


class RunRows:
    _c: Connection
    _insert: Callable[[Table], Any]

    def insert_run(self, run: NewRun, *, at: int) -> None:
        row = {
            "id": run.run_id,
            "experiment_id": run.experiment_id,
            "name": run.name,
            "user_id": run.user_id,
            "status": "RUNNING",
            "start_time": run.start_time,
            "end_time": None,
            "artifact_uri": run.artifact_uri,
            "lifecycle_stage": "active",
            "created_by": run.actor,
        }
        self._c.execute(insert(runs).values(**row))
        if run.tags:
            rows = [{"run_id": run.run_id, "key": key, "value": value} for key, value in run.tags.items()]
            self._c.execute(insert(run_tags), rows)

    def runs(self, run_ids: Sequence[str]) -> list[Run]:
        if not run_ids:
            return []
        values = {"ids": list(run_ids)}
        rows = {row.id: row for row in self._c.execute(select(runs).where(runs.c.id.in_(values["ids"])))}
        if not rows:
            return []
        children: dict[str, _Children] = defaultdict(_Children)
        for row in self._c.execute(_CHILDREN, values):
            children[row.run_id].add(row)
        for row in self._c.execute(_DATASETS, values):
            children[row.run_id].inputs.append(_dataset(row))
        return [_run(rows[run_id], children[run_id]) for run_id in run_ids if run_id in rows]

    def lock_run(self, run_id: str) -> RunState | None:
        query = select(runs.c.id, runs.c.experiment_id, runs.c.name, runs.c.status).where(runs.c.id == run_id)
        row = self._c.execute(query.with_for_update()).first()
        return None if row is None else RunState(row.id, row.experiment_id, row.name, row.status)

    def update_run(self, run_id: str, *, status: str | None, end_time: int | None, name: str | None) -> None:
        values: dict[str, Any] = {"status": status, "end_time": end_time, "name": name}
        changes = {column: value for column, value in values.items() if value is not None}
        if changes:
            self._c.execute(update(runs).where(runs.c.id == run_id).values(**changes))
        if name is not None:
            self._set_run_tags(run_id, {RUN_NAME_TAG: name})

    def run_params(self, run_id: str, keys: Collection[str]) -> dict[str, str]:
        if not keys:
            return {}
        query = select(run_params.c.key, run_params.c.value).where(
            run_params.c.run_id == run_id, run_params.c.key.in_(list(keys))
        )
        return {str(key): str(value) for key, value in self._c.execute(query)}

    def log_run(
        self,
        run_id: str,
        *,
        metrics: Sequence[StoredMetric],
        params: Mapping[str, str],
        tags: Mapping[str, str],
    ) -> None:
        if metrics:
            history = [{"run_id": run_id, **_columns(m)} for m in dict.fromkeys(metrics)]
            self._c.execute(insert(metric_history), history)
            keep_latest(self, run_metrics, "run_id", run_id, metrics)
        if params:
            rows = [{"run_id": run_id, "key": key, "value": value} for key, value in params.items()]
            self._c.execute(self._insert(run_params).on_conflict_do_nothing(), rows)
        if tags:
            self._set_run_tags(run_id, tags)
            if RUN_NAME_TAG in tags:
                self._c.execute(update(runs).where(runs.c.id == run_id).values(name=tags[RUN_NAME_TAG]))

    def metric_history(self, run_id: str, key: str) -> list[Metric]:
        h = metric_history
        query = (
            select(h.c.key, h.c.value, h.c.is_nan, h.c.timestamp, h.c.step)
            .where(h.c.run_id == run_id, h.c.key == key)
            .order_by(h.c.step, h.c.timestamp, h.c.id)
        )
        return [metric(*row) for row in self._c.execute(query)]

    def add_run_datasets(self, run_id: str, datasets: Sequence[RunInput]) -> None:
        if not datasets:
            return
        rows = [
            {
                "run_id": run_id,
                "name": d.name,
                "digest": d.digest,
                "source_type": d.source_type,
                "source": d.source,
                "schema": d.schema,
                "profile": d.profile,
                "tags": json.dumps(d.tags, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
            }
            for d in datasets
        ]
        self._c.execute(self._insert(run_datasets).on_conflict_do_nothing(), rows)

    def add_run_models(self, run_id: str, direction: str, models: Sequence[tuple[str, int]]) -> None:
        if not models:
            return
        rows = [{"run_id": run_id, "direction": direction, "model_id": m, "step": s} for m, s in models]
        self._c.execute(self._insert(run_models).on_conflict_do_nothing(), rows)

    def _set_run_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        statement = self._insert(run_tags)
        statement = statement.on_conflict_do_update(
            index_elements=["run_id", "key"], set_={"value": statement.excluded.value}
        )
        self._c.execute(
            statement, [{"run_id": run_id, "key": key, "value": value} for key, value in tags.items()]
        )


def _columns(m: StoredMetric) -> dict[str, Any]:
    return {"key": m.key, "value": m.value, "is_nan": m.is_nan, "timestamp": m.timestamp, "step": m.step}


def _dataset(row: Any) -> RunInput:
    return RunInput(
        name=row.name,
        digest=row.digest,
        source_type=row.source_type,
        source=row.source,
        schema=row.schema,
        profile=row.profile,
        tags=json.loads(row.tags),
    )


def _run(row: Any, children: _Children) -> Run:
    return Run(
        run_id=row.id,
        experiment_id=str(row.experiment_id),
        run_name=row.name,
        user_id=row.user_id,
        status=row.status,
        start_time=row.start_time,
        end_time=row.end_time,
        artifact_uri=row.artifact_uri,
        lifecycle_stage=row.lifecycle_stage,
        metrics=tuple(children.metrics),
        params=children.params,
        tags=children.tags,
        inputs=tuple(children.inputs),
        model_inputs=tuple(children.model_inputs),
        outputs=tuple(children.outputs),
    )
