"""Retention of deleted versions: a policy's ``deleted_days`` rule purges the files of versions deleted more
than D days ago, a deleted model's versions included (before it, a deleted model's files were never
reclaimed: retention walked live models only, and a deleted model cannot be named).

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("retention_policies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deleted_days", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("retention_policies", schema=None) as batch_op:
        batch_op.drop_column("deleted_days")
