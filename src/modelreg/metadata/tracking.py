"""Tracking rows: MLflow experiments, runs and logged models.

``TrackingRows`` is mixed into ``SqlSession``; experiments live here, runs in ``tracking_runs`` and logged
models in ``logged_models``. Results are assembled in a constant number of queries whatever their count: the
rows, then every child row of the page at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Connection, Table, insert, select, update

from modelreg.metadata.logged_models import LoggedModelRows
from modelreg.metadata.tracking_runs import RunRows
from modelreg.metadata.tracking_tables import experiment_tags, experiments
from modelreg.types import Experiment

__all__ = ["TrackingRows"]


class TrackingRows(RunRows, LoggedModelRows):
    _c: Connection
    _insert: Callable[[Table], Any]  # SqlSession's INSERT … ON CONFLICT of its own dialect

    def insert_experiment(
        self, name: str, *, location: str | None, tags: Mapping[str, str], at: int, actor: str
    ) -> int | None:
        row = {
            "name": name,
            "artifact_location": location or "",
            "lifecycle_stage": "active",
            "creation_time": at,
            "last_update_time": at,
            "created_by": actor,
        }
        statement = (
            self._insert(experiments)
            .values(**row)
            .on_conflict_do_nothing(index_elements=["name"])
            .returning(experiments.c.id)  # a row comes back only when inserted
        )
        new_id: int | None = self._c.execute(statement).scalar()
        if new_id is None:
            return None
        if location is None:  # the default needs the id, known only now
            default = f"mlflow-artifacts:/{new_id}"
            self._c.execute(
                update(experiments).where(experiments.c.id == new_id).values(artifact_location=default)
            )
        if tags:
            rows = [{"experiment_id": new_id, "key": key, "value": value} for key, value in tags.items()]
            self._c.execute(insert(experiment_tags), rows)
        return new_id

    def experiment(self, experiment_id: int) -> Experiment | None:
        found = self._experiments(experiments.c.id == experiment_id)
        return found[0] if found else None

    def experiment_by_name(self, name: str) -> Experiment | None:
        found = self._experiments(experiments.c.name == name)
        return found[0] if found else None

    def _experiments(self, where: Any) -> list[Experiment]:
        rows = self._c.execute(select(experiments).where(where)).all()
        if not rows:
            return []
        ids = [row.id for row in rows]
        tags: dict[int, dict[str, str]] = {experiment_id: {} for experiment_id in ids}
        query = select(experiment_tags).where(experiment_tags.c.experiment_id.in_(ids))
        for owner, key, value in self._c.execute(query.order_by(experiment_tags.c.key)):
            tags[owner][key] = value
        return [
            Experiment(
                experiment_id=str(row.id),
                name=row.name,
                artifact_location=row.artifact_location,
                lifecycle_stage=row.lifecycle_stage,
                tags=tags[row.id],
                creation_time=row.creation_time,
                last_update_time=row.last_update_time,
            )
            for row in rows
        ]
