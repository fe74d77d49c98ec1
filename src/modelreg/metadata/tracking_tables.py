"""The tracking tables: MLflow experiments, runs, logged models, artifacts (part of ``tables.metadata``).

MLflow's own times (a run's start, a metric's timestamp, an experiment's creation) are int milliseconds
since the epoch, MLflow's unit, stored as given so they round-trip exactly. Our own bookkeeping times
(``artifacts.created_at``) are ``TIME``, as elsewhere.

A run keeps the latest value of each metric (``run_metrics``: what ``get_run`` shows, one row per key) and
every value logged (``metric_history``, append-only). Artifacts are files stored by path: each row points at a
whole-file digest of the ``files`` table, whose chunks are then garbage collection roots like a version's.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Float, ForeignKey, Index, String, Table, Text

from modelreg.metadata.tables import ACTOR, ID, KEY, TIME, metadata

__all__ = [
    "ARTIFACT_PATH",
    "artifacts",
    "experiment_tags",
    "experiments",
    "logged_model_metrics",
    "logged_model_params",
    "logged_model_tags",
    "logged_models",
    "metric_history",
    "run_datasets",
    "run_metrics",
    "run_models",
    "run_params",
    "run_tags",
    "runs",
]

MILLIS = BigInteger()
RUN_ID = String(32)  # uuid4 hex, as MLflow makes them
MODEL_ID = String(40)  # 'm-' + uuid4 hex
# Byte order on PostgreSQL too ("C" collation): listings and deletions select a directory as the range
# [prefix + '/', prefix + '0'), which only holds when '/' sorts just before '0', as in bytes. SQLite's
# default (BINARY) already compares bytes, and knows no collation named "C".
ARTIFACT_PATH = String(1024).with_variant(String(1024, collation="C"), "postgresql")

experiments = Table(
    "experiments",
    metadata,
    # Experiment "0" ("Default") is inserted by the migration; ids are handed out from 1.
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("name", String(500), nullable=False, unique=True),
    Column("artifact_location", Text, nullable=False),
    Column("lifecycle_stage", String(16), nullable=False),
    Column("creation_time", MILLIS, nullable=False),
    Column("last_update_time", MILLIS, nullable=False),
    Column("created_by", ACTOR, nullable=False),
)

experiment_tags = Table(
    "experiment_tags",
    metadata,
    Column("experiment_id", ID, ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("value", Text, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", RUN_ID, primary_key=True),
    Column("experiment_id", ID, ForeignKey("experiments.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(250), nullable=False),
    Column("user_id", String(256), nullable=False),
    Column("status", String(16), nullable=False),
    Column("start_time", MILLIS, nullable=True),
    Column("end_time", MILLIS, nullable=True),
    Column("artifact_uri", Text, nullable=False),
    Column("lifecycle_stage", String(16), nullable=False),
    Column("created_by", ACTOR, nullable=False),
    Index(None, "experiment_id", "start_time"),
)


def _entries(name: str, owner: str, owner_type: String, parent: str) -> Table:
    """A key → text table owned by a run or a logged model (params, tags): primary key (owner, key)."""
    return Table(
        name,
        metadata,
        Column(owner, owner_type, ForeignKey(f"{parent}.id", ondelete="CASCADE"), primary_key=True),
        Column("key", KEY, primary_key=True),
        Column("value", Text, nullable=False),
    )


run_params = _entries("run_params", "run_id", RUN_ID, "runs")
run_tags = _entries("run_tags", "run_id", RUN_ID, "runs")

# The latest value of each of a run's metrics: the one with the highest (step, timestamp, value), as MLflow
# decides it. NaN is stored as value 0 with is_nan set (SQLite cannot store NaN: it reads back as NULL).
run_metrics = Table(
    "run_metrics",
    metadata,
    Column("run_id", RUN_ID, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("value", Float, nullable=False),
    Column("is_nan", Boolean, nullable=False),
    Column("timestamp", MILLIS, nullable=False),
    Column("step", MILLIS, nullable=False),
)

metric_history = Table(
    "metric_history",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("run_id", RUN_ID, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("key", KEY, nullable=False),
    Column("value", Float, nullable=False),
    Column("is_nan", Boolean, nullable=False),
    Column("timestamp", MILLIS, nullable=False),
    Column("step", MILLIS, nullable=False),
    Index(None, "run_id", "key", "step"),
)

# Dataset inputs of a run, once per (name, digest) as MLflow deduplicates them; ``tags`` is the input's
# tags as canonical JSON (a handful of short strings, always read with the dataset).
run_datasets = Table(
    "run_datasets",
    metadata,
    Column("run_id", RUN_ID, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(500), primary_key=True),
    Column("digest", String(36), primary_key=True),
    Column("source_type", String(64), nullable=False),
    Column("source", Text, nullable=False),
    Column("schema", Text, nullable=True),
    Column("profile", Text, nullable=True),
    Column("tags", Text, nullable=False),
)

logged_models = Table(
    "logged_models",
    metadata,
    Column("id", MODEL_ID, primary_key=True),
    Column("experiment_id", ID, ForeignKey("experiments.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(500), nullable=False),
    Column("artifact_location", Text, nullable=False),
    Column("creation_timestamp", MILLIS, nullable=False),
    Column("last_updated_timestamp", MILLIS, nullable=False),
    Column("model_type", String(500), nullable=True),
    Column("source_run_id", RUN_ID, ForeignKey("runs.id"), nullable=True),
    Column("status", String(16), nullable=False),
    Column("status_message", Text, nullable=True),
    Column("lifecycle_stage", String(16), nullable=False),
    Column("created_by", ACTOR, nullable=False),
    Index(None, "experiment_id", "creation_timestamp"),
    Index(None, "name"),
    Index(None, "source_run_id"),
)

logged_model_params = _entries("logged_model_params", "model_id", MODEL_ID, "logged_models")
logged_model_tags = _entries("logged_model_tags", "model_id", MODEL_ID, "logged_models")

# The latest value of each metric of a logged model (as ``run_metrics``), and the run that logged it.
logged_model_metrics = Table(
    "logged_model_metrics",
    metadata,
    Column("model_id", MODEL_ID, ForeignKey("logged_models.id", ondelete="CASCADE"), primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("value", Float, nullable=False),
    Column("is_nan", Boolean, nullable=False),
    Column("timestamp", MILLIS, nullable=False),
    Column("step", MILLIS, nullable=False),
    Column("run_id", RUN_ID, nullable=True),
    Index(None, "key", "value"),
)

# A run's model inputs (direction 'input', step 0) and outputs (direction 'output', at a step).
run_models = Table(
    "run_models",
    metadata,
    Column("run_id", RUN_ID, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("direction", String(6), primary_key=True),
    Column("model_id", MODEL_ID, ForeignKey("logged_models.id", ondelete="CASCADE"), primary_key=True),
    Column("step", MILLIS, primary_key=True, autoincrement=False),
    Index(None, "model_id"),
)

# Files by path ('<experiment id>/<run id>/artifacts/model.pkl'): the content is a row of ``files``.
artifacts = Table(
    "artifacts",
    metadata,
    Column("path", ARTIFACT_PATH, primary_key=True),
    Column("file_digest", String(71), ForeignKey("files.digest"), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("created_at", TIME, nullable=False),
    Column("created_by", ACTOR, nullable=False),
    Index(None, "file_digest"),
)
