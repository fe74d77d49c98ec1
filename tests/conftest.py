"""Shared fixtures: real SQLite files, a real PostgreSQL (a fresh schema per test), real chunk stores.

PostgreSQL is never skipped: when it cannot be reached the tests that need it fail, so a CI run without
it is red. Point ``MODELREG_TEST_POSTGRES_URL`` elsewhere if it does not run at the default address.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy

import modelreg
from modelreg.client.client import Client

POSTGRES_URL = os.environ.get("MODELREG_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _admin_engine() -> sqlalchemy.Engine:
    return sqlalchemy.create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1))


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a brand-new schema, dropped after the test."""
    schema = f"mr_{secrets.token_hex(6)}"
    engine = _admin_engine()
    try:
        with engine.begin() as connection:
            connection.execute(sqlalchemy.text(f'CREATE SCHEMA "{schema}"'))
    except sqlalchemy.exc.OperationalError as error:
        pytest.fail(f"PostgreSQL is required at {POSTGRES_URL} and could not be reached: {error}")
    separator = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


@pytest.fixture(params=DATABASES)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A metadata database URL: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def storage_url(tmp_path: Path) -> str:
    return f"file://{tmp_path / 'chunks'}"


@pytest.fixture
def reg(database: str, storage_url: str) -> Iterator[Client]:
    """The embedded SDK on each database, acting as 'alice'."""
    client = modelreg.connect(database, storage=storage_url, actor="alice")
    yield client
    client.close()


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    """A small model directory: a 3 MB weights file, a config and a nested file."""
    root = tmp_path / "model"
    (root / "sub").mkdir(parents=True)
    (root / "weights.bin").write_bytes(os.urandom(3_000_000))
    (root / "config.json").write_text('{"layers": 3}')
    (root / "sub" / "vocab.txt").write_text("a\nb\nc\n")
    return root


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` by relative path, for comparing a pull with what was pushed."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
