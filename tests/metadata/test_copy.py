"""``metadata.copy``: what makes the row copy generic (every table, by primary key) and the revision rule."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy

from modelreg import errors
from modelreg.metadata.copy import COPIED_TABLES, check_revision
from modelreg.metadata.engine import HEAD, make_engine
from modelreg.metadata.store import SqlMetadataStore
from modelreg.metadata.tables import metadata


def test_every_table_but_the_sweep_rows_is_copied_parents_first() -> None:
    names = [table.name for table in COPIED_TABLES]
    assert set(names) == {table.name for table in metadata.sorted_tables} - {"chunk_sweeps"}
    for index, table in enumerate(COPIED_TABLES):
        for key in table.foreign_keys:  # parents are copied before their children
            assert names.index(key.column.table.name) <= index, (table.name, key.target_fullname)


def test_every_table_has_a_primary_key_to_page_and_resume_by() -> None:
    assert all(len(table.primary_key.columns) > 0 for table in COPIED_TABLES)


def stamped(path: Path, revision: str | None) -> sqlalchemy.Engine:
    engine = make_engine(f"sqlite:///{path}")
    if revision is not None:
        with engine.begin() as connection:
            connection.execute(sqlalchemy.text("CREATE TABLE alembic_version (version_num VARCHAR(32))"))
            connection.execute(sqlalchemy.text("INSERT INTO alembic_version VALUES (:r)"), {"r": revision})
    return engine


@pytest.mark.parametrize(
    ("revision", "role", "empty_ok", "refused"),
    [
        (HEAD, "source", False, False),
        (None, "target", True, False),  # a new database: Alembic builds it
        (None, "source", False, True),  # no registry there
        (f"{int(HEAD) - 1:04d}", "target", True, False),  # ours, older: opening upgrades it
        (f"{int(HEAD) - 1:04d}", "source", False, True),  # a source is never upgraded by a migration
        ("9999", "target", True, True),  # newer than this modelreg
    ],
)
def test_revisions(tmp_path: Path, revision: str | None, role: str, empty_ok: bool, refused: bool) -> None:
    engine = stamped(tmp_path / "db.sqlite", revision)
    try:
        if refused:
            with pytest.raises(errors.SchemaMismatch):
                check_revision(engine, role=role, empty_ok=empty_ok)
        else:
            check_revision(engine, role=role, empty_ok=empty_ok)
    finally:
        engine.dispose()


def test_a_real_registry_is_at_head(tmp_path: Path) -> None:
    SqlMetadataStore(f"sqlite:///{tmp_path / 'r.db'}").close()
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    check_revision(engine, role="source", empty_ok=False)
    engine.dispose()
