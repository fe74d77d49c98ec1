"""The audit chain: every change is an event in the same transaction; tampering is detected."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy

from modelreg import errors
from modelreg.client.client import Client
from modelreg.metadata.engine import make_engine
from modelreg.metadata.store import SqlMetadataStore
from modelreg.metadata.tables import audit_events
from modelreg.registry.audit import GENESIS, verify_chain


def events(database: str) -> list:  # type: ignore[type-arg]
    store = SqlMetadataStore(database)
    with store.session() as session:
        found = session.audit_events(limit=10_000)
    store.close()
    return found


def test_every_change_is_audited_in_order(reg: Client, database: str, model_dir: Path) -> None:
    reg.push("m", model_dir, aliases=["candidate"])
    reg.set_alias("m", "champion", 1)
    reg.set_tag("m/1", "k", "v")
    reg.delete_tag("m/1", "k")
    reg.update_description("m", "d")
    reg.set_stage("m/1", "staging")
    reg.delete_alias("m", "champion")
    reg.delete_version("m/1")
    chain = events(database)
    assert [e.action for e in chain] == [
        "registry:model:create",
        "registry:version:create",
        "registry:alias:set",
        "registry:tag:set",
        "registry:tag:delete",
        "registry:description:update",
        "registry:stage:set",
        "registry:alias:delete",
        "registry:version:delete",
    ]
    assert [e.seq for e in chain] == list(range(1, 10))
    assert {e.actor for e in chain} == {"alice"}
    assert chain[0].prev_hash == GENESIS
    assert verify_chain(chain) is None


def test_failed_changes_write_no_event(reg: Client, database: str, model_dir: Path) -> None:
    reg.push("m", model_dir)
    before = len(events(database))
    with pytest.raises(errors.VersionNotFound):
        reg.set_alias("m", "champion", 5)
    with pytest.raises(errors.TagNotFound):
        reg.delete_tag("m", "nope")
    assert len(events(database)) == before


def test_tampering_is_detected(reg: Client, database: str, model_dir: Path) -> None:
    reg.push("m", model_dir)
    reg.set_alias("m", "champion", 1)
    reg.set_stage("m/1", "production")
    chain = events(database)
    assert verify_chain([chain[0], replace(chain[1], actor="mallory"), chain[2]]) == 2
    assert verify_chain([chain[0], chain[2]]) == 3  # a deleted event
    assert verify_chain([chain[1], chain[0], chain[2]]) == 2  # reordered
    engine = make_engine(database)
    with engine.begin() as connection:
        connection.execute(
            sqlalchemy.update(audit_events).where(audit_events.c.seq == 2).values(data='{"after":99}')
        )
    engine.dispose()
    assert verify_chain(events(database)) == 2
