"""Tracking rows (``metadata.tracking*``, ``metadata.logged_models``, ``metadata.artifacts``): results
assembled in a constant number of queries, and ``modelreg migrate`` copying tracking data and artifacts."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from sqlalchemy import event

from modelreg.access import Actor
from modelreg.connection import migrate, open_stores
from modelreg.metadata.copy import COPIED_TABLES
from modelreg.metadata.engine import make_engine
from modelreg.registry.service import Registry
from modelreg.types import Metric, RunInput

ADMIN = Actor("root", role="admin")


@pytest.fixture
def registry(database: str, storage_url: str) -> Iterator[Registry]:
    metadata, chunks = open_stores(database, storage=storage_url)
    yield Registry(metadata, chunks, actor=ADMIN)
    metadata.close()


@contextmanager
def counted(store: Any) -> Iterator[list[str]]:
    """The SQL statements run on the store's engine meanwhile."""
    statements: list[str] = []
    engine: sqlalchemy.Engine = store._engine

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def busy_run(registry: Registry, model: str) -> str:
    run = registry.create_run("0", tags={"a": "1", "b": "2"}).run_id
    registry.log_batch(run, metrics=[Metric(f"m{i}", i, 1, 0) for i in range(5)], params={"p": "1", "q": "2"})
    registry.log_inputs(run, datasets=[RunInput("d", "x", "local", "s", None, None, {})], models=[model])
    registry.log_outputs(run, models=[(model, 1)])
    return run


def test_runs_and_logged_models_cost_the_same_queries_whatever_their_number(registry: Registry) -> None:
    model = registry.create_logged_model("0", params={"a": "1"}, tags={"b": "2"}).model_id
    registry.log_model_metrics(model, [Metric("auc", 0.5, 1, 0)])
    runs = [busy_run(registry, model) for _ in range(6)]
    models = [model] + [registry.create_logged_model("0", tags={"t": str(i)}).model_id for i in range(5)]
    costs = []
    for size in (1, 6):
        with registry.metadata.session() as session, counted(registry.metadata) as statements:
            found = session.runs(runs[:size])
            assert [run.run_id for run in found] == runs[:size]
            assert all(len(run.metrics) == 5 and run.inputs and run.outputs for run in found)
            assert len(session.logged_models(models[:size])) == size
        costs.append(len([s for s in statements if s.lstrip().upper().startswith("SELECT")]))
    assert costs[0] == costs[1] == 5  # runs: rows, children, datasets; logged models: rows, children


def test_log_batch_writes_a_batch_in_a_few_statements(registry: Registry) -> None:
    run = registry.create_run("0").run_id
    metrics = [Metric(f"m{i % 50}", float(i), i, i) for i in range(1000)]
    with counted(registry.metadata) as statements:
        registry.log_batch(run, metrics=metrics)
    writes = [s for s in statements if s.lstrip().upper().startswith(("INSERT", "UPDATE"))]
    assert len(writes) <= 4  # history, latest per key, audit event and head
    history = registry.get_metric_history(run, "m7")
    assert [m.value for m in history] == [float(i) for i in range(7, 1000, 50)]


def all_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = make_engine(url)
    with engine.connect() as connection:
        found = {t.name: sorted(map(tuple, connection.execute(sqlalchemy.select(t)))) for t in COPIED_TABLES}
    engine.dispose()
    return found


def test_migrate_copies_tracking_rows_and_artifact_chunks(database: str, tmp_path: Path) -> None:
    source = tmp_path / "source"
    metadata, chunks = open_stores(str(source))
    registry = Registry(metadata, chunks, actor=ADMIN)
    experiment = registry.create_experiment("exp", tags={"k": "v"}).experiment_id
    model = registry.create_logged_model(experiment, name="clf").model_id
    run = busy_run(registry, model)
    data = os.urandom(2_500_000)
    registry.put_artifact(f"{experiment}/{run}/artifacts/w.bin", [data])
    registry.finalize_logged_model(model, "READY")
    metadata.close()

    report = migrate(str(source), to_database=database, to_storage=f"file://{tmp_path / 'target'}")

    assert report.problems == ()
    assert report.chunks_copied == report.chunks_referenced >= 2  # the artifact's chunks are roots
    counts = {entry.table: entry.source_rows for entry in report.tables}
    assert counts["experiments"] == 2 and counts["runs"] == 1 and counts["artifacts"] == 1
    assert all_rows(database) == all_rows(f"sqlite:///{source / 'registry.db'}")
    target, target_chunks = open_stores(database, storage=f"file://{tmp_path / 'target'}")
    copy = Registry(target, target_chunks, actor=ADMIN)
    try:
        assert copy.get_run(run).outputs == ((model, 1),)
        _, stream = copy.open_artifact(f"{experiment}/{run}/artifacts/w.bin")
        assert b"".join(stream) == data
        assert copy.create_experiment("next").experiment_id == str(int(experiment) + 1)  # ids continue
        assert copy.collect_garbage().reclaimable_chunks == 0
    finally:
        target.close()
