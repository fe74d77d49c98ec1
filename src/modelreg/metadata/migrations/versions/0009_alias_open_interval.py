"""At most one open interval per alias, and the index every alias move uses to close it.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_OPEN = sa.text("valid_to IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("alias_history", schema=None) as batch_op:
        batch_op.create_index(
            "uq_alias_history_open",
            ["model_id", "alias"],
            unique=True,
            sqlite_where=_OPEN,
            postgresql_where=_OPEN,
        )


def downgrade() -> None:
    with op.batch_alter_table("alias_history", schema=None) as batch_op:
        batch_op.drop_index("uq_alias_history_open")
