"""SQLite's writers queue on a lock in the process and a flock across processes (``SqliteWriters``)."""

from __future__ import annotations

import fcntl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from modelreg.errors import StorageUnavailable
from modelreg.metadata.engine import SqliteWriters
from modelreg.metadata.store import SqlMetadataStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlMetadataStore]:
    opened = SqlMetadataStore(f"sqlite:///{tmp_path / 'registry.db'}")
    yield opened
    opened.close()


def _create(store: SqlMetadataStore, name: str) -> None:
    with store.session(write=True) as session:
        session.create_model(name, description="", tags={}, at=datetime.now(UTC), actor="test")


def _exists(store: SqlMetadataStore, name: str) -> bool:
    with store.session() as session:
        return session.model_id(name) is not None


def _try_flock(path: Path) -> bool:
    """Whether the lock can be taken now, from a descriptor of its own (as another process would)."""
    with open(path, "a+b") as other:
        try:
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(other, fcntl.LOCK_UN)
        return True


def test_a_write_transaction_holds_the_cross_process_lock_until_it_ends(
    tmp_path: Path, store: SqlMetadataStore
) -> None:
    lock = tmp_path / "registry.db.write-lock"
    with store.session(write=True) as session:
        session.create_model("held", description="", tags={}, at=datetime.now(UTC), actor="test")
        assert _try_flock(lock) is False
    assert _try_flock(lock) is True
    with store.session():  # reads never take it
        assert _try_flock(lock) is True
    assert _exists(store, "held")


def test_a_writer_waits_for_another_process_holding_the_lock_then_writes(
    tmp_path: Path, store: SqlMetadataStore
) -> None:
    command = (
        "import fcntl, sys; f = open(sys.argv[1], 'a+b'); fcntl.flock(f, fcntl.LOCK_EX); "
        "print('held', flush=True); sys.stdin.readline()"
    )
    lock = f"{tmp_path / 'registry.db'}.write-lock"
    with subprocess.Popen(
        [sys.executable, "-c", command, lock], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as holder:
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline() == "held\n"
        writer = threading.Thread(target=_create, args=(store, "queued"))
        writer.start()
        writer.join(timeout=0.5)
        assert writer.is_alive()  # queued behind the other process, not in SQLite's busy handler
        assert not _exists(store, "queued")
        holder.stdin.write("\n")
        holder.stdin.flush()
        writer.join(timeout=30)
        assert not writer.is_alive()
    assert _exists(store, "queued")


def test_writers_of_one_store_in_many_threads_all_commit(store: SqlMetadataStore) -> None:
    failures: list[BaseException] = []

    def write(number: int) -> None:
        try:
            _create(store, f"m{number}")
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=write, args=(number,)) for number in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assert all(_exists(store, f"m{number}") for number in range(16))


def test_a_lock_file_that_cannot_be_opened_leaves_sqlite_to_decide(
    tmp_path: Path, store: SqlMetadataStore
) -> None:
    (tmp_path / "registry.db.write-lock").mkdir()  # open() fails, as in a directory one cannot write to
    _create(store, "unqueued")
    _create(store, "again")
    assert _exists(store, "unqueued") and _exists(store, "again")


def test_a_writer_that_never_gets_its_turn_fails_after_the_timeout(tmp_path: Path) -> None:
    writers = SqliteWriters(str(tmp_path / "registry.db"), timeout=0.3)
    with open(tmp_path / "registry.db.write-lock", "a+b") as other:  # another process's descriptor
        fcntl.flock(other, fcntl.LOCK_EX)
        began = time.monotonic()
        with pytest.raises(StorageUnavailable, match=r"no write turn within 0\.3 s"), writers:
            pass
        assert 0.3 <= time.monotonic() - began < 5
        fcntl.flock(other, fcntl.LOCK_UN)
    with writers:  # the failed wait left nothing held: the next writer gets its turn at once
        assert _try_flock(tmp_path / "registry.db.write-lock") is False
    assert _try_flock(tmp_path / "registry.db.write-lock") is True
