"""Migrations: upgrade → downgrade → upgrade on SQLite and PostgreSQL, and the tables match them exactly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select

from modelreg.metadata.engine import HEAD, current_revision, downgrade, head_revision, make_engine, migrate
from modelreg.metadata.tables import audit_head, metadata


def test_upgrade_downgrade_upgrade_round_trip(database: str) -> None:
    engine = make_engine(database)
    migrate(engine)
    assert current_revision(engine) == head_revision()
    assert "versions" in inspect(engine).get_table_names()
    downgrade(engine, "base")
    assert current_revision(engine) is None
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate(engine)
    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        assert connection.execute(select(audit_head.c.seq, audit_head.c.hash)).all() == [(0, "0" * 64)]
    engine.dispose()


def test_tables_match_the_migrations(database: str) -> None:
    engine = make_engine(database)
    migrate(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    engine.dispose()
    assert differences == []


def test_migrate_is_a_no_op_when_current(database: str) -> None:
    engine = make_engine(database)
    migrate(engine)
    migrate(engine)  # second call must not fail or re-run anything
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_head_constant_matches_the_scripts() -> None:
    assert head_revision() == HEAD == "0013"
