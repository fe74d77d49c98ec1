"""Alembic environment: runs on the connection handed in by ``modelreg.metadata.engine.migrate``."""

from __future__ import annotations

from alembic import context

from modelreg.metadata.tables import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,  # one script runs on SQLite (table rebuilds) and PostgreSQL (ALTER)
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
