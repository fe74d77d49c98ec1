"""Version reads: whole versions in a constant, small number of statements, with every child row in place."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy

from modelreg.access import Actor
from modelreg.blobs.memory import MemoryChunkStore
from modelreg.client.client import Client
from modelreg.metadata.store import SqlMetadataStore
from modelreg.registry.service import Registry


@pytest.fixture
def store(database: str) -> Iterator[SqlMetadataStore]:
    metadata = SqlMetadataStore(database)
    yield metadata
    metadata.close()


@pytest.fixture
def client(store: SqlMetadataStore) -> Client:
    return Client(Registry(store, MemoryChunkStore(), actor=Actor("alice", role="admin")))


class Statements:
    """The SELECTs the database receives (``BEGIN``/``COMMIT`` and pool pings are not statements here)."""

    def __init__(self, engine: sqlalchemy.Engine) -> None:
        self.seen: list[str] = []
        sqlalchemy.event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            self.seen.append(statement)


def _model(tmp_path: Path, name: str, content: bytes) -> Path:
    root = tmp_path / name
    (root / "sub").mkdir(parents=True)
    (root / "b.bin").write_bytes(content)
    (root / "sub" / "a.txt").write_bytes(content[:3])
    return root


def test_get_version_by_alias_runs_three_statements(
    client: Client, store: SqlMetadataStore, tmp_path: Path
) -> None:
    pushed = client.push(
        "m",
        _model(tmp_path, "one", b"weights"),
        metrics={"loss": 0.25, "auc": 0.91},
        params={"lr": "0.1", "depth": "6"},
        tags={"team": "risk", "b": "2"},
        aliases=["champion", "candidate"],
    )
    counter = Statements(store._engine)
    got = client.get_version("m@champion")
    assert len(counter.seen) == 3, counter.seen  # alias → key; the row; every child row in one UNION ALL
    assert got == pushed
    assert list(got.metrics) == ["auc", "loss"] and got.metrics == {"auc": 0.91, "loss": 0.25}
    assert list(got.params) == ["depth", "lr"] and list(got.tags) == ["b", "team"]
    assert [f.path for f in got.files] == ["b.bin", "sub/a.txt"]
    assert got.aliases == ("candidate", "champion")


def test_a_page_of_versions_keeps_each_version_children_apart(
    client: Client, store: SqlMetadataStore, tmp_path: Path
) -> None:
    bare = client.push("m", _model(tmp_path, "bare", b"no metadata at all"))
    rich = client.push(
        "m",
        _model(tmp_path, "rich", b"other weights"),
        metrics={"auc": 0.5},
        params={"p": "x"},
        tags={"t": "y"},
        aliases=["prod"],
    )
    counter = Statements(store._engine)
    page = client.list_versions("m")
    assert [v.version for v in page.items] == [2, 1]
    assert page.items == [rich, bare]
    assert (bare.metrics, bare.params, bare.tags, bare.aliases) == ({}, {}, {}, ())
    assert len(counter.seen) <= 4  # model id, the page's ids, rows, children: not one per version
