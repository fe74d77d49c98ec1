"""Two promotion requests for different versions of one model, approved at the same instant by two approvers,
each in its own thread with its own connection pool, on SQLite and PostgreSQL.

Whatever the interleaving, a reader sampling the model's stages throughout sees exactly one production
version every time (both applications archive the previous production version in their own transaction,
under the model's lock), and the stage history has no gap and no overlap in production.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

import modelreg
from modelreg.access import Actor
from modelreg.connection import open_stores
from modelreg.registry.service import Registry
from modelreg.types import StageChange

ROUNDS = 4
POLICY = '[[rule]]\ntarget = "production"\napprovals = 1\n'


@pytest.fixture
def people(database: str, storage_url: str) -> Iterator[dict[str, Registry]]:
    """bob and carol (approvers) and a reader, each on a store of their own (as separate servers would be)."""
    opened = {name: open_stores(database, storage=storage_url) for name in ("bob", "carol", "reader")}
    roles = {"bob": "approver", "carol": "approver", "reader": "viewer"}
    yield {name: Registry(*stores, actor=Actor(name, role=roles[name])) for name, stores in opened.items()}
    for metadata, _ in opened.values():
        metadata.close()


def test_simultaneous_approvals_keep_one_production_version(
    database: str, storage_url: str, model_dir: Path, people: dict[str, Registry]
) -> None:
    with modelreg.connect(database, storage=storage_url, actor="alice") as alice:
        alice.push("churn", model_dir)
        alice.set_stage("churn/1", "production")
        alice.set_policy(POLICY)
        samples, stop = [], threading.Event()
        reader = threading.Thread(target=_sample, args=(people["reader"], samples, stop))
        reader.start()
        try:
            for _ in range(ROUNDS):
                first, second = (alice.push("churn", model_dir).version for _ in range(2))
                requests = [alice.request_promotion(f"churn/{n}", to="production") for n in (first, second)]
                applied = _race(people["bob"], people["carol"], [r.id for r in requests])
                assert [alice.get_promotion(r.id).status for r in requests] == ["applied", "applied"]
                assert sorted(applied) == sorted(r.id for r in requests)
        finally:
            stop.set()
            reader.join()
        assert len(samples) > 10 and set(samples) == {1}, f"production counts seen: {sorted(set(samples))}"
        history = [c for v in alice.list_versions("churn", limit=100) for c in alice.stage_history(v.ref)]
    _check_one_production_at_a_time(history)


def _race(bob: Registry, carol: Registry, request_ids: list[int]) -> list[int]:
    barrier, done, failures = threading.Barrier(2), [], []

    def approve(registry: Registry, request_id: int) -> None:
        barrier.wait()
        try:
            done.append(registry.approve(request_id, comment="race").id)
        except Exception as error:
            failures.append(error)

    threads = [
        threading.Thread(target=approve, args=(person, rid))
        for person, rid in zip((bob, carol), request_ids, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    return done


def _sample(reader: Registry, samples: list[int], stop: threading.Event) -> None:
    while not stop.is_set():
        listed = reader.list_versions("churn", limit=1000)
        samples.append(sum(v.stage == "production" for v in listed))
        found = reader.search_versions("name = 'churn' AND stage = 'production'", limit=1000)
        samples.append(len(found.items))


def _check_one_production_at_a_time(history: list[StageChange]) -> None:
    """Production intervals, by start: each starts exactly where the previous one ends; only the last is
    open; and each one after the first was entered through a promotion request."""
    production = sorted((c for c in history if c.stage == "production"), key=lambda c: (c.since, c.version))
    assert len(production) == 1 + 2 * ROUNDS
    ends: list[datetime | None] = [c.until for c in production]
    assert ends[-1] is None and None not in ends[:-1]
    for earlier, later in itertools.pairwise(production):
        assert earlier.until == later.since, (earlier, later)
    assert all(c.request_id is not None for c in production[1:])
