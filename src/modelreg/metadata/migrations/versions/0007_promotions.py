"""Governed promotion: requests, approvals, the stored policy, and the request behind each history row.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = sa.DateTime(timezone=True)
_ACTOR = sa.String(length=256)


def upgrade() -> None:
    op.create_table(
        "promotion_requests",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("model_id", _ID, nullable=False),
        sa.Column("version_id", _ID, nullable=False),
        sa.Column("target", sa.String(length=256), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", _ACTOR, nullable=False),
        sa.Column("requested_at", _TIME, nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("expires_at", _TIME, nullable=False),
        sa.Column("approvals_required", sa.Integer(), nullable=False),
        sa.Column("closed_at", _TIME, nullable=True),
        sa.Column("closed_by", _ACTOR, nullable=True),
        sa.Column("closed_comment", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["models.id"],
            name=op.f("fk_promotion_requests_model_id_models"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["versions.id"],
            name=op.f("fk_promotion_requests_version_id_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotion_requests")),
    )
    with op.batch_alter_table("promotion_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_promotion_requests_model_id_status"), ["model_id", "status"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_promotion_requests_status_expires_at"), ["status", "expires_at"], unique=False
        )
    op.create_table(
        "promotion_approvals",
        sa.Column("request_id", _ID, autoincrement=False, nullable=False),
        sa.Column("actor", _ACTOR, nullable=False),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["promotion_requests.id"],
            name=op.f("fk_promotion_approvals_request_id_promotion_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("request_id", "actor", name=op.f("pk_promotion_approvals")),
    )
    op.create_table(
        "promotion_policy",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.Column("updated_by", _ACTOR, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotion_policy")),
    )
    for table in ("alias_history", "stage_history"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("request_id", _ID, nullable=True))


def downgrade() -> None:
    for table in ("stage_history", "alias_history"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("request_id")
    op.drop_table("promotion_policy")
    op.drop_table("promotion_approvals")
    with op.batch_alter_table("promotion_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_promotion_requests_status_expires_at"))
        batch_op.drop_index(batch_op.f("ix_promotion_requests_model_id_status"))
    op.drop_table("promotion_requests")
