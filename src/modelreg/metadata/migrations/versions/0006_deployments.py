"""Deployments: which version serves which environment, as intervals.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("environment", sa.String(length=128), nullable=False),
        sa.Column("endpoint", sa.String(length=1024), nullable=False),
        sa.Column("model_id", _ID, nullable=False),
        sa.Column("version_id", _ID, nullable=False),
        sa.Column("digest", sa.String(length=71), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_by", sa.String(length=256), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_by", sa.String(length=256), nullable=True),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name=op.f("fk_deployments_model_id_models"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["versions.id"],
            name=op.f("fk_deployments_version_id_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployments")),
    )
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_deployments_environment_started_at"), ["environment", "started_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_deployments_model_id_environment_endpoint_ended_at"),
            ["model_id", "environment", "endpoint", "ended_at"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_deployments_version_id"), ["version_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deployments_version_id"))
        batch_op.drop_index(batch_op.f("ix_deployments_model_id_environment_endpoint_ended_at"))
        batch_op.drop_index(batch_op.f("ix_deployments_environment_started_at"))
    op.drop_table("deployments")
