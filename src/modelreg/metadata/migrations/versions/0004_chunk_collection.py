"""Garbage collection's bookkeeping: chunk leases (told present) and the chunks of a sweep in progress.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chunk_leases",
        sa.Column("digest", sa.String(length=71), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_chunk_leases")),
    )
    op.create_table(
        "chunk_sweeps",
        sa.Column("digest", sa.String(length=71), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_chunk_sweeps")),
    )


def downgrade() -> None:
    op.drop_table("chunk_sweeps")
    op.drop_table("chunk_leases")
