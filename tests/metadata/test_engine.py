"""PostgreSQL pooling: no ping per checkout, yet a connection that died while idle is replaced before use."""

from __future__ import annotations

import time

import pytest
import sqlalchemy
from sqlalchemy import text

from modelreg.metadata.engine import make_engine


def _backend_pid(engine: sqlalchemy.Engine) -> int:
    with engine.connect() as connection:
        pid: int = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    return pid


def _kill(postgres_url: str, pid: int) -> None:
    admin = make_engine(postgres_url)
    with admin.connect() as connection:
        assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    admin.dispose()
    time.sleep(0.2)  # the server closes the socket asynchronously


def test_an_idle_connection_killed_by_the_server_is_pinged_and_replaced(postgres_url: str) -> None:
    engine = make_engine(postgres_url, ping_after_idle=0.05)
    try:
        first = _backend_pid(engine)
        assert _backend_pid(engine) == first  # the pool keeps one connection
        _kill(postgres_url, first)
        time.sleep(0.1)  # idle past ping_after_idle: the next checkout pings it, finds it dead, replaces it
        second = _backend_pid(engine)
        assert second != first
    finally:
        engine.dispose()


def test_a_busy_connection_is_not_pinged_so_a_death_fails_one_call_only(postgres_url: str) -> None:
    engine = make_engine(postgres_url, ping_after_idle=3600.0)
    try:
        first = _backend_pid(engine)
        assert _backend_pid(engine) == first
        _kill(postgres_url, first)
        with pytest.raises(sqlalchemy.exc.OperationalError):  # no ping: the dead connection was used
            _backend_pid(engine)
        assert _backend_pid(engine) != first  # the failure recycled the pool
    finally:
        engine.dispose()
