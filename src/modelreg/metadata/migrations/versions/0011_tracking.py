"""MLflow tracking: experiments, runs (params, tags, latest metrics, metric history, dataset and model links),
logged models (params, tags, metrics) and artifacts stored by path in the chunk store.

Experiment "0", "Default", is created here: MLflow's clients and UI expect it, and creating it once in the
migration (which runs under the migration lock) cannot race.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_RUN_ID = sa.String(length=32)
_MODEL_ID = sa.String(length=40)
_PATH = sa.String(length=1024).with_variant(sa.String(length=1024, collation="C"), "postgresql")


def upgrade() -> None:
    _experiments()
    _runs()
    _run_children()
    _logged_models()
    _run_models()
    _artifacts()


def _experiments() -> None:
    experiments = op.create_table(
        "experiments",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("artifact_location", sa.Text(), nullable=False),
        sa.Column("lifecycle_stage", sa.String(length=16), nullable=False),
        sa.Column("creation_time", sa.BigInteger(), nullable=False),
        sa.Column("last_update_time", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_experiments")),
        sa.UniqueConstraint("name", name=op.f("uq_experiments_name")),
    )
    now = int(time.time() * 1000)
    default = {
        "id": 0,
        "name": "Default",
        "artifact_location": "mlflow-artifacts:/0",
        "lifecycle_stage": "active",
        "creation_time": now,
        "last_update_time": now,
        "created_by": "modelreg",
    }
    op.bulk_insert(experiments, [default])
    _entries("experiment_tags", "experiment_id", _ID, "experiments")


def _entries(name: str, owner: str, owner_type: sa.types.TypeEngine[Any], parent: str) -> None:
    op.create_table(
        name,
        sa.Column(owner, owner_type, nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            [owner], [f"{parent}.id"], name=op.f(f"fk_{name}_{owner}_{parent}"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint(owner, "key", name=op.f(f"pk_{name}")),
    )


def _runs() -> None:
    op.create_table(
        "runs",
        sa.Column("id", _RUN_ID, nullable=False),
        sa.Column("experiment_id", _ID, nullable=False),
        sa.Column("name", sa.String(length=250), nullable=False),
        sa.Column("user_id", sa.String(length=256), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("start_time", sa.BigInteger(), nullable=True),
        sa.Column("end_time", sa.BigInteger(), nullable=True),
        sa.Column("artifact_uri", sa.Text(), nullable=False),
        sa.Column("lifecycle_stage", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name=op.f("fk_runs_experiment_id_experiments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
    )
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_runs_experiment_id_start_time"), ["experiment_id", "start_time"], unique=False
        )


def _metric_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("is_nan", sa.Boolean(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("step", sa.BigInteger(), nullable=False),
    ]


def _run_children() -> None:
    _entries("run_params", "run_id", _RUN_ID, "runs")
    _entries("run_tags", "run_id", _RUN_ID, "runs")
    op.create_table(
        "run_metrics",
        sa.Column("run_id", _RUN_ID, nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        *_metric_columns(),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_run_metrics_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "key", name=op.f("pk_run_metrics")),
    )
    op.create_table(
        "metric_history",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("run_id", _RUN_ID, nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        *_metric_columns(),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_metric_history_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metric_history")),
    )
    with op.batch_alter_table("metric_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_metric_history_run_id_key_step"), ["run_id", "key", "step"], unique=False
        )
    op.create_table(
        "run_datasets",
        sa.Column("run_id", _RUN_ID, nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("digest", sa.String(length=36), nullable=False),
        sa.Column("source_type", sa.String(length=64), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("schema", sa.Text(), nullable=True),
        sa.Column("profile", sa.Text(), nullable=True),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_run_datasets_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "name", "digest", name=op.f("pk_run_datasets")),
    )


def _logged_models() -> None:
    op.create_table(
        "logged_models",
        sa.Column("id", _MODEL_ID, nullable=False),
        sa.Column("experiment_id", _ID, nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("artifact_location", sa.Text(), nullable=False),
        sa.Column("creation_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("last_updated_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("model_type", sa.String(length=500), nullable=True),
        sa.Column("source_run_id", _RUN_ID, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_message", sa.Text(), nullable=True),
        sa.Column("lifecycle_stage", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name=op.f("fk_logged_models_experiment_id_experiments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source_run_id"], ["runs.id"], name=op.f("fk_logged_models_source_run_id_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_logged_models")),
    )
    with op.batch_alter_table("logged_models", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_logged_models_experiment_id_creation_timestamp"),
            ["experiment_id", "creation_timestamp"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_logged_models_name"), ["name"], unique=False)
        batch_op.create_index(batch_op.f("ix_logged_models_source_run_id"), ["source_run_id"], unique=False)
    _entries("logged_model_params", "model_id", _MODEL_ID, "logged_models")
    _entries("logged_model_tags", "model_id", _MODEL_ID, "logged_models")
    op.create_table(
        "logged_model_metrics",
        sa.Column("model_id", _MODEL_ID, nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        *_metric_columns(),
        sa.Column("run_id", _RUN_ID, nullable=True),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["logged_models.id"],
            name=op.f("fk_logged_model_metrics_model_id_logged_models"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("model_id", "key", name=op.f("pk_logged_model_metrics")),
    )
    with op.batch_alter_table("logged_model_metrics", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_logged_model_metrics_key_value"), ["key", "value"], unique=False)


def _run_models() -> None:
    op.create_table(
        "run_models",
        sa.Column("run_id", _RUN_ID, nullable=False),
        sa.Column("direction", sa.String(length=6), nullable=False),
        sa.Column("model_id", _MODEL_ID, nullable=False),
        sa.Column("step", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["logged_models.id"],
            name=op.f("fk_run_models_model_id_logged_models"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_run_models_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "direction", "model_id", "step", name=op.f("pk_run_models")),
    )
    with op.batch_alter_table("run_models", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_run_models_model_id"), ["model_id"], unique=False)


def _artifacts() -> None:
    op.create_table(
        "artifacts",
        sa.Column("path", _PATH, nullable=False),
        sa.Column("file_digest", sa.String(length=71), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.ForeignKeyConstraint(
            ["file_digest"], ["files.digest"], name=op.f("fk_artifacts_file_digest_files")
        ),
        sa.PrimaryKeyConstraint("path", name=op.f("pk_artifacts")),
    )
    with op.batch_alter_table("artifacts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_artifacts_file_digest"), ["file_digest"], unique=False)


def downgrade() -> None:
    for table in (
        "artifacts",
        "run_models",
        "logged_model_metrics",
        "logged_model_tags",
        "logged_model_params",
        "logged_models",
        "run_datasets",
        "metric_history",
        "run_metrics",
        "run_tags",
        "run_params",
        "runs",
        "experiment_tags",
        "experiments",
    ):
        op.drop_table(table)
