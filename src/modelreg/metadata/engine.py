"""Engines for SQLite and PostgreSQL, and the migration runner.

SQLite: WAL (readers never block the writer), foreign keys on, a long busy timeout, and ``BEGIN IMMEDIATE``
for write transactions: a deferred transaction that upgrades to a write lock can fail with SQLITE_BUSY
without waiting, which would turn concurrent pushes into errors instead of a queue.

PostgreSQL: psycopg 3, READ COMMITTED; writers serialise on row locks (``SELECT … FOR UPDATE``); pooled
connections are pinged only after a rest (``_postgres_engine``).

SQLite's writers also queue before ``BEGIN IMMEDIATE`` (``SqliteWriters``): a writer that finds SQLite's lock
taken sleeps in its busy handler in steps of up to 100 ms and can lose every race to writers that arrive
later, so 8 concurrent writers over two server processes saw p99 latencies above a second. A lock in the
process, then an ``flock`` of ``<file>.write-lock`` across processes, makes them wait in the kernel instead,
which wakes the next as soon as the writer before it is done.

Migrations run at connect when the schema is behind, under a lock (an advisory lock on PostgreSQL, a file
lock beside the SQLite file) so that many processes starting at once migrate exactly once. Garbage
collection holds a lock of the same kind (``named_lock``) so that only one sweep runs at a time.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError

from modelreg.errors import StorageUnavailable

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "HEAD",
    "SqliteWriters",
    "alembic_config",
    "head_revision",
    "make_engine",
    "migrate",
    "named_lock",
    "normalise_url",
]

# The newest migration. Knowing it without loading Alembic keeps every connect to an up-to-date database
# cheap (Alembic is imported only to migrate); a test checks it equals the scripts' head.
HEAD = "0013"

_MIGRATIONS = Path(__file__).parent / "migrations"
PING_AFTER_IDLE_S = 5.0  # PostgreSQL: a pooled connection idle this long is pinged before use
_SQLITE_BUSY_MS = 120_000
# Locks of databases that have no file to lock beside (in-memory SQLite): one process can reach those only.
_LOCAL_LOCKS: dict[tuple[str, str], threading.Lock] = {}
_LOCAL_LOCKS_GUARD = threading.Lock()


def normalise_url(url: str) -> str:
    """``postgresql://`` → psycopg 3 driver; other URLs unchanged."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str, *, ping_after_idle: float = PING_AFTER_IDLE_S) -> Engine:
    url = normalise_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    return _postgres_engine(url, ping_after_idle=ping_after_idle)


def _postgres_engine(url: str, *, ping_after_idle: float) -> Engine:
    """A pool that pings a connection only when it comes back from ``ping_after_idle`` seconds of rest.

    ``pool_pre_ping`` pings on every checkout: one more round trip per call, ~0.1–0.25 ms of a ~1 ms
    ``get_version`` here. Connections die mostly while idle (a server restart, a proxy's idle timeout), so
    only those are pinged; a dead one is replaced before use (``DisconnectionError`` makes the pool retry).
    A connection that dies while in steady use fails its one call (``STORAGE_UNAVAILABLE``, retryable),
    and SQLAlchemy then recycles every connection of the pool that predates the failure.
    """
    engine = create_engine(url, pool_size=10, max_overflow=20)

    @event.listens_for(engine, "checkin")
    def _rested(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _wake(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < ping_after_idle:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            if engine.dialect.is_disconnect(error, dbapi_connection, None):
                raise DisconnectionError(str(error)) from error
            raise

    return engine


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(url, connect_args={"timeout": _SQLITE_BUSY_MS / 1000, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (below)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_MS}")
        cursor.execute("PRAGMA synchronous=FULL")  # the registry is a source of truth: durable commits
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        write = connection.get_execution_options().get("modelreg_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


class SqliteWriters:
    """The queue of one SQLite database's write transactions: in this process, then across processes.

    Entered around every write transaction of a store, so that its writers wait on a lock in the process,
    then one at a time on an ``flock`` of ``<database>.write-lock``, rather than in SQLite's busy handler
    (which sleeps up to 100 ms between tries). A taken flock is waited for in the kernel, which wakes the
    waiter as soon as the holder lets go; the wait runs in a helper thread so that it can time out like
    SQLite's busy timeout (``StorageUnavailable``): a blocking flock cannot. Each turn opens the lock file
    anew, so an abandoned wait's descriptor is its own, and a forked child shares nothing.

    The flock is only a queue: SQLite's own lock still decides, so a writer that does not take it (another
    program, a lock file that cannot be opened) is safe, merely slower to get its turn. It dies with its
    process. An in-memory database has only the lock in the process.
    """

    def __init__(self, database: str | None, *, timeout: float = _SQLITE_BUSY_MS / 1000) -> None:
        self._timeout = timeout
        self._local = threading.Lock()
        self._path = f"{database}.write-lock" if database and database != ":memory:" else None
        self._held = -1  # the descriptor holding the flock during a turn (only the turn's thread uses it)

    def __enter__(self) -> None:
        deadline = time.monotonic() + self._timeout
        if not self._local.acquire(timeout=self._timeout):
            raise self._busy()
        try:
            self._held = self._take(deadline)
        except BaseException:
            self._local.release()
            raise

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        held, self._held = self._held, -1
        try:
            if held >= 0:
                os.close(held)  # closing the only descriptor of its open file lets the flock go
        finally:
            self._local.release()

    def _take(self, deadline: float) -> int:
        """A new descriptor holding the flock, or -1 when the lock file cannot be opened."""
        if self._path is None:
            return -1
        try:
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError:  # a read-only directory: SQLite will refuse the write itself
            return -1
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            pass
        except BaseException:
            os.close(fd)
            raise
        held = _FlockWait(fd).result(max(0.0, deadline - time.monotonic()))
        if held is None:
            raise self._busy()
        return held

    def _busy(self) -> StorageUnavailable:
        return StorageUnavailable(
            f"metadata database busy: no write turn within {self._timeout:g} s (another writer holds it)"
        )


class _FlockWait:
    """A blocking flock on ``fd`` in a helper thread, which the caller waits for with a timeout. A wait
    given up is not cancelled (a blocked flock cannot be): the helper closes ``fd`` when its turn comes,
    letting the lock go at once."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._done = threading.Event()
        self._guard = threading.Lock()
        self._abandoned = False
        self._failed = False
        threading.Thread(target=self._wait, name="modelreg-sqlite-turn", daemon=True).start()

    def result(self, timeout: float) -> int | None:
        """``fd``, holding the flock (the caller's now); -1 when flock failed (``fd`` is closed: no queue
        then, SQLite decides); None when ``timeout`` passed first (``fd`` is the helper's to close)."""
        try:
            self._done.wait(timeout)
        except BaseException:  # interrupted: nobody will take the turn, so it must not stay held
            self._give_up()
            raise
        with self._guard:
            if self._done.is_set():
                return -1 if self._failed else self._fd
            self._abandoned = True
            return None

    def _give_up(self) -> None:
        with self._guard:
            if not self._done.is_set():
                self._abandoned = True  # the helper closes fd when its turn comes
            elif not self._failed:
                os.close(self._fd)

    def _wait(self) -> None:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except OSError:
            self._failed = True
        with self._guard:
            self._done.set()
            if self._abandoned or self._failed:
                os.close(self._fd)


def alembic_config(connection: Connection) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The head revision according to the migration scripts (loads Alembic)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(_MIGRATIONS)).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the schema to ``revision`` if needed, once, whatever the number of concurrent callers."""
    if revision == "head" and current_revision(engine) == HEAD:
        return
    from alembic import command

    with named_lock(engine, "migrate"):
        if revision == "head" and current_revision(engine) == HEAD:
            return  # another process migrated while this one waited for the lock
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), revision)


def downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

    with named_lock(engine, "migrate"), engine.begin() as connection:
        command.downgrade(alembic_config(connection), revision)


@contextmanager
def named_lock(engine: Engine, name: str) -> Iterator[None]:
    """Hold the lock called ``name`` for this database, across every process using it; waits for a holder.

    A session-level advisory lock on PostgreSQL, ``flock`` on ``<file>.<name>-lock`` beside a SQLite file:
    either dies with its holder (connection or process), so a crash never leaves it taken. Advisory locks
    are per database, so the key includes the schema: registries in two schemas of one database are apart.
    """
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            schema = connection.execute(text("SELECT current_schema()")).scalar() or ""
            material = f"modelreg-{name}-{schema}".encode()
            key = int.from_bytes(hashlib.sha256(material).digest()[:7], "big")
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
            connection.commit()
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                connection.commit()
        return
    database = engine.url.database
    if not database or database == ":memory:":
        with _LOCAL_LOCKS_GUARD:
            local = _LOCAL_LOCKS.setdefault((str(engine.url), name), threading.Lock())
        with local:
            yield
        return
    with open(f"{database}.{name}-lock", "a+b") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)
