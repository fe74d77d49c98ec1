"""Metadata storage: SQLAlchemy 2 over SQLite or PostgreSQL, schema built by Alembic migrations."""
