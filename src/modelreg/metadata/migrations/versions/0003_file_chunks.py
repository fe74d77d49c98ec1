"""File chunks as rows: chunk → file index for authorised chunk reads and garbage collection.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "file_chunks",
        sa.Column("file_digest", sa.String(length=71), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("chunk_digest", sa.String(length=71), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["file_digest"],
            ["files.digest"],
            name=op.f("fk_file_chunks_file_digest_files"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("file_digest", "seq", name=op.f("pk_file_chunks")),
    )
    with op.batch_alter_table("file_chunks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_file_chunks_chunk_digest_file_digest"),
            ["chunk_digest", "file_digest"],
            unique=False,
        )
    # Back-fill from the JSON chunk lists of the files already recorded.
    connection = op.get_bind()
    files = sa.table("files", sa.column("digest"), sa.column("chunks"))
    file_chunks = sa.table(
        "file_chunks",
        sa.column("file_digest"),
        sa.column("seq"),
        sa.column("chunk_digest"),
        sa.column("size"),
    )
    for digest, chunks in connection.execute(sa.select(files.c.digest, files.c.chunks)):
        rows = [
            {"file_digest": digest, "seq": seq, "chunk_digest": chunk, "size": size}
            for seq, (chunk, size) in enumerate(json.loads(chunks))
        ]
        if rows:
            connection.execute(sa.insert(file_chunks), rows)


def downgrade() -> None:
    with op.batch_alter_table("file_chunks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_file_chunks_chunk_digest_file_digest"))
    op.drop_table("file_chunks")
