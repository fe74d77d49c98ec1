"""Model rows on SQLite and PostgreSQL: a delete costs the same few statements whatever the model's size, and
two writers racing for one name (a rename, a revival) end with one winner and ``ModelAlreadyExists``, never
a database error."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy

from modelreg.access import Actor
from modelreg.blobs.memory import MemoryChunkStore
from modelreg.client.client import Client
from modelreg.errors import ModelAlreadyExists
from modelreg.metadata.store import SqlMetadataStore, SqlSession
from modelreg.registry.service import Registry

NOW = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def store(database: str) -> Iterator[SqlMetadataStore]:
    metadata = SqlMetadataStore(database)
    yield metadata
    metadata.close()


@pytest.fixture
def client(store: SqlMetadataStore) -> Client:
    return Client(Registry(store, MemoryChunkStore(), actor=Actor("alice", role="admin")))


def _statements(store: SqlMetadataStore, action: Callable[[], object]) -> list[str]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement.split(maxsplit=1)[0].upper())

    engine = store._engine
    sqlalchemy.event.listen(engine, "before_cursor_execute", record)
    try:
        action()
    finally:
        sqlalchemy.event.remove(engine, "before_cursor_execute", record)
    return seen


def _push(client: Client, tmp_path: Path, name: str, versions: int) -> None:
    root = tmp_path / name
    root.mkdir()
    for number in range(versions):
        (root / "w.bin").write_bytes(os.urandom(64) + bytes([number]))
        client.push(name, root, aliases=["champion"] if number == 0 else None)


def test_deleting_a_model_costs_the_same_statements_whatever_its_size(
    client: Client, store: SqlMetadataStore, tmp_path: Path
) -> None:
    _push(client, tmp_path, "small", 2)
    _push(client, tmp_path, "large", 40)
    small = _statements(store, lambda: client.delete_model("small"))
    large = _statements(store, lambda: client.delete_model("large"))
    assert small == large  # no statement per version
    assert len(large) <= 20  # 12 reads (guards, aliases, requests, policies), 6 writes, BEGIN
    listed = client.audit_events(action="registry:model:delete").items
    assert [len(e.data["versions_deleted"]) for e in listed] == [2, 40]


def _race(
    store: SqlMetadataStore, first: Callable[[SqlSession], object], second: Callable[[SqlSession], object]
) -> BaseException | None:
    """Run ``first`` in a write session that stays open while ``second`` starts in another thread's, then
    commit the first; returns what the second raised (None if nothing)."""
    outcome: list[BaseException | None] = []

    def other() -> None:
        try:
            with store.session(write=True) as session:
                second(session)
        except BaseException as error:  # handed to the test thread
            outcome.append(error)
        else:
            outcome.append(None)

    with store.session(write=True) as session:
        first(session)
        thread = threading.Thread(target=other)
        thread.start()
        time.sleep(0.3)  # the other writer is now waiting: for the row (PostgreSQL) or the write lock
        assert not outcome
    thread.join(timeout=30)
    assert outcome
    return outcome[0]


def test_two_renames_to_one_name(store: SqlMetadataStore) -> None:
    with store.session(write=True) as session:
        for name in ("a", "b"):
            session.create_model(name, description="", tags={}, at=NOW, actor="t")

    def rename(name: str) -> Callable[[SqlSession], object]:
        def run(session: SqlSession) -> None:
            model_id = session.model_id(name, lock=True)
            assert model_id is not None
            session.rename_model(model_id, "z", at=NOW)

        return run

    refused = _race(store, rename("a"), rename("b"))
    assert isinstance(refused, ModelAlreadyExists) and refused.message == "model 'z' already exists"
    with store.session() as session:
        assert (
            session.model_id("a"),
            session.model_id("b") is not None,
            session.model_id("z") is not None,
        ) == (
            None,
            True,
            True,
        )


def test_two_revivals_of_one_name(store: SqlMetadataStore) -> None:
    with store.session(write=True) as session:
        model_id, _ = session.create_model("m", description="", tags={}, at=NOW, actor="t")
        assert session.allocate_version(model_id) == 1
        session.mark_model_deleted(model_id, at=NOW, actor="t")

    def create(session: SqlSession) -> None:
        assert session.create_model("m", description="d", tags={"k": "v"}, at=NOW, actor="t") == (
            model_id,
            True,
        )

    refused = _race(store, create, create)
    assert isinstance(refused, ModelAlreadyExists)
    with store.session(write=True) as session:
        assert session.model_id("m") == model_id
        assert session.ensure_model("m", at=NOW, actor="t") == (model_id, False)
        assert session.allocate_version(model_id) == 2  # the counter survived the delete
        assert session.model("m") is not None and session.model("m").tags == {"k": "v"}  # type: ignore[union-attr]
