"""``modelreg.connection.migrate`` / ``registry.migration``: resume, refusals, verification, on SQLite and
PostgreSQL targets. The whole-registry SQLite+file → PostgreSQL+S3 run is in tests/functional/test_migrate.py.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy

import modelreg
from modelreg import errors
from modelreg.blobs.file import FileChunkStore
from modelreg.connection import migrate
from modelreg.digest import Digest
from modelreg.metadata.copy import COPIED_TABLES, MetadataCopy
from modelreg.metadata.engine import HEAD, make_engine
from modelreg.metadata.store import SqlMetadataStore
from modelreg.registry.migration import Migration
from tests.conftest import tree_bytes


def build_source(root: Path, tmp_path: Path, *, versions: int = 6) -> Path:
    """A registry with shared and changed content, aliases moved, a stage, a tag and a deleted version."""
    files = tmp_path / "files"
    files.mkdir(exist_ok=True)
    shared = os.urandom(40_000)
    with modelreg.connect(root, actor="alice") as reg:
        for number in range(1, versions + 1):
            (files / "shared.bin").write_bytes(shared)
            (files / "own.bin").write_bytes(os.urandom(5_000 + number))
            reg.push("churn" if number % 2 else "fraud", files, metrics={"auc": number / 10})
        reg.set_alias("churn", "champion", 1)
        reg.set_alias("churn", "champion", 3)
        reg.set_stage("fraud/2", "production")
        reg.set_tag("churn", "team", "risk")
        reg.delete_version("fraud/3")
    return root


def rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every copied table's rows, sorted, as the database holds them."""
    engine = make_engine(url)
    with engine.connect() as connection:
        found = {
            table.name: sorted(tuple(row) for row in connection.execute(sqlalchemy.select(table)))
            for table in COPIED_TABLES
        }
    engine.dispose()
    return found


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return build_source(tmp_path / "source", tmp_path)


@pytest.fixture
def source_url(source: Path) -> str:
    return f"sqlite:///{source / 'registry.db'}"


@pytest.fixture
def target(database: str, tmp_path: Path) -> tuple[str, str]:
    """(database URL, chunk store URL): an empty SQLite file or PostgreSQL schema, and a directory."""
    return database, f"file://{tmp_path / 'target-chunks'}"


def test_a_migration_copies_every_row_and_chunk_and_verifies_them(
    source: Path, source_url: str, target: tuple[str, str], tmp_path: Path
) -> None:
    report = migrate(str(source), to_database=target[0], to_storage=target[1], batch_size=7)
    assert report.problems == ()
    assert all(entry.source_rows == entry.target_rows for entry in report.tables)
    assert (report.versions_verified, report.chunks_present) == (6, 0)
    assert report.chunks_copied == report.chunks_referenced == 7  # the shared file once, 6 own files
    assert rows(target[0]) == rows(source_url)
    with modelreg.connect(target[0], storage=target[1], actor="bob") as copy:
        assert copy.get_version("churn@champion").version == 3
        pulled = copy.pull("fraud/2", dest=tmp_path / "pulled")
        copy.push("fraud", tmp_path / "files")  # the target is a working registry: ids continue
        assert copy.get_version("fraud").version == 4  # never reusing 3, deleted in the source
        copy.set_alias("fraud", "new", 4)
        copy.push("brand-new", tmp_path / "files")  # a new model row, stage and history rows: new ids
        copy.set_stage("brand-new/1", "staging")
    assert set(tree_bytes(Path(pulled))) == {"shared.bin", "own.bin"}


def test_rerunning_a_finished_migration_copies_nothing_and_changes_nothing(
    source: Path, target: tuple[str, str]
) -> None:
    migrate(str(source), to_database=target[0], to_storage=target[1])
    before = rows(target[0])
    again = migrate(str(source), to_database=target[0], to_storage=target[1])
    assert (again.problems, again.chunks_copied, again.chunks_present) == ((), 0, 7)
    assert rows(target[0]) == before


class _FailingStore(FileChunkStore):
    """A real file chunk store whose disk "fills up" after ``limit`` writes."""

    def __init__(self, root: Path, limit: int) -> None:
        super().__init__(root)
        self.limit = limit

    def put(self, digest: Digest, data: bytes | memoryview, *, verified: bool = False) -> bool:
        if self.limit == 0:
            raise errors.StorageUnavailable("chunk store unavailable: no space left on device")
        self.limit -= 1
        return super().put(digest, data, verified=verified)


def test_a_migration_interrupted_while_copying_chunks_resumes(
    source: Path, source_url: str, target: tuple[str, str], tmp_path: Path
) -> None:
    target_root = Path(target[1].removeprefix("file://"))
    source_metadata = SqlMetadataStore(source_url)
    target_metadata = SqlMetadataStore(target[0])
    copier = MetadataCopy(source_url, target[0])
    interrupted = Migration(
        copier,
        source_metadata,
        FileChunkStore(source / "chunks"),
        target_metadata,
        _FailingStore(target_root, limit=3),
        workers=1,
    )
    with pytest.raises(errors.StorageUnavailable):
        interrupted.run()
    for store in (copier, source_metadata, target_metadata):
        store.close()
    assert len(list(FileChunkStore(target_root).iter())) == 3
    assert rows(target[0])["versions"] == []  # chunks go first: no version without its chunks

    report = migrate(str(source), to_database=target[0], to_storage=target[1])
    assert (report.problems, report.chunks_present, report.chunks_copied) == ((), 3, 4)
    assert rows(target[0]) == rows(source_url)


def test_a_migration_interrupted_while_copying_rows_resumes(
    source: Path, source_url: str, target: tuple[str, str]
) -> None:
    seen: list[str] = []

    def stop_in_versions(event: str, count: int) -> None:
        seen.append(event)
        if seen.count("rows") == 6:
            raise KeyboardInterrupt  # as Ctrl-C would, between two batches

    with pytest.raises(KeyboardInterrupt):
        migrate(
            str(source), to_database=target[0], to_storage=target[1], batch_size=2, progress=stop_in_versions
        )
    partial = rows(target[0])
    assert 0 < sum(map(len, partial.values())) < sum(map(len, rows(source_url).values()))

    with modelreg.connect(source, actor="alice") as reg:  # the source moved on meanwhile
        reg.set_alias("churn", "champion", 2)
    report = migrate(str(source), to_database=target[0], to_storage=target[1], batch_size=2)
    assert report.problems == ()
    assert rows(target[0]) == rows(source_url)


def test_a_target_holding_another_registry_is_refused_and_left_alone(
    source: Path, target: tuple[str, str], tmp_path: Path
) -> None:
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.bin").write_bytes(b"another registry")
    with modelreg.connect(target[0], storage=target[1], actor="carol") as other:
        other.push("churn", tmp_path / "other")
    before = rows(target[0])
    with pytest.raises(errors.RegistryMismatch, match="another registry"):
        migrate(str(source), to_database=target[0], to_storage=target[1])
    assert rows(target[0]) == before


def test_databases_at_another_schema_revision_are_refused(
    source: Path, source_url: str, tmp_path: Path
) -> None:
    newer = tmp_path / "newer.db"
    engine = make_engine(f"sqlite:///{newer}")
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
        connection.execute(sqlalchemy.text("INSERT INTO alembic_version VALUES ('0099')"))
    engine.dispose()
    with pytest.raises(errors.SchemaMismatch, match="revision 0099") as refused:
        migrate(str(source), to_database=f"sqlite:///{newer}", to_storage=str(tmp_path / "c"))
    assert refused.value.details["role"] == "target"

    older = f"{int(HEAD) - 1:04d}"
    engine = make_engine(source_url)
    with engine.begin() as connection:  # stamped as an older schema (a real downgrade drops columns)
        connection.execute(sqlalchemy.text("UPDATE alembic_version SET version_num = :v"), {"v": older})
    engine.dispose()
    with pytest.raises(errors.SchemaMismatch, match=f"source database is at schema revision {older}"):
        migrate(str(source), to_database=f"sqlite:///{tmp_path / 't.db'}", to_storage=str(tmp_path / "c"))
    engine = make_engine(source_url)
    with engine.connect() as connection:  # the source was only read: still at its revision
        assert (
            connection.execute(sqlalchemy.text("SELECT version_num FROM alembic_version")).scalar() == older
        )
    engine.dispose()


def test_a_damaged_chunk_in_the_target_fails_the_verification(source: Path, target: tuple[str, str]) -> None:
    migrate(str(source), to_database=target[0], to_storage=target[1])
    store = Path(target[1].removeprefix("file://"))
    damaged = next(path for path in store.rglob("*") if path.is_file() and path.stat().st_size == 40_000)
    damaged.chmod(0o644)
    damaged.write_bytes(b"\0" * 40_000)
    report = migrate(str(source), to_database=target[0], to_storage=target[1])
    assert len(report.problems) == 1 and "cannot be read back from the target" in report.problems[0]
    sizes_only = migrate(str(source), to_database=target[0], to_storage=target[1], verify_content=False)
    assert sizes_only.problems == () and not sizes_only.content_verified  # same size: only a re-read tells


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"to_database": "ftp://host/db", "to_storage": "/tmp/x"}, errors.InvalidInput),
        ({"to_database": "sqlite:////tmp/x.db", "to_storage": "bogus://x"}, errors.InvalidInput),
        ({"to_database": "sqlite:////tmp/x.db", "to_storage": "s3://"}, errors.InvalidInput),
    ],
)
def test_bad_target_urls_are_invalid_input(
    source: Path, arguments: dict[str, str], error: type[Exception]
) -> None:
    with pytest.raises(error):
        migrate(str(source), **arguments)


def test_sources_that_are_not_embedded_registries_are_refused(source_url: str, tmp_path: Path) -> None:
    target = {"to_database": f"sqlite:///{tmp_path / 't.db'}", "to_storage": str(tmp_path / "c")}
    with pytest.raises(errors.InvalidInput, match="not a server"):
        migrate("http://127.0.0.1:8080", **target)
    with pytest.raises(errors.InvalidInput, match="no registry at"):
        migrate(str(tmp_path / "nowhere"), **target)
    assert not (tmp_path / "nowhere").exists()  # nothing created
    with pytest.raises(errors.InvalidInput, match="target database is the source"):
        migrate(
            source_url, storage=str(tmp_path / "c"), to_database=source_url, to_storage=str(tmp_path / "d")
        )
    with pytest.raises(errors.InvalidInput, match="batch size"):
        migrate(source_url.removeprefix("sqlite:///").removesuffix("/registry.db"), batch_size=0, **target)


def test_progress_reports_bytes_rows_and_versions(source: Path, target: tuple[str, str]) -> None:
    events: dict[str, int] = {}

    def progress(event: str, count: int) -> None:
        events[event] = events.get(event, 0) + count

    report = migrate(
        str(source), to_database=target[0], to_storage=target[1], batch_size=3, progress=progress
    )
    assert (
        events["total"]
        == events["scanned"]
        == events["copied"]
        == report.bytes_copied
        == 40_000 + sum(5_000 + number for number in range(1, 7))
    )
    assert (events["rows"], events["verified"]) == (report.rows_read, 6)
