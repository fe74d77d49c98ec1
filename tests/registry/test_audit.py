"""The audit chain: every change is an event in the same transaction; tampering is detected."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy

from modelreg import errors
from modelreg.client.client import Client
from modelreg.metadata.engine import make_engine
from modelreg.metadata.protocol import AuditRecord
from modelreg.metadata.store import SqlMetadataStore
from modelreg.metadata.tables import audit_events
from modelreg.registry.audit import GENESIS, event_hash, verify_chain
from modelreg.registry.manifest import canonical_json


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
    assert verify_chain([chain[0], chain[2]]) == 2  # a deleted event: the first missing number
    assert verify_chain([chain[1], chain[0], chain[2]]) == 1  # reordered: event 1 is not where it belongs
    engine = make_engine(database)
    with engine.begin() as connection:
        connection.execute(
            sqlalchemy.update(audit_events).where(audit_events.c.seq == 2).values(data='{"after":99}')
        )
    engine.dispose()
    assert verify_chain(events(database)) == 2


def test_event_hash_is_the_canonical_json_of_the_event() -> None:
    """``event_hash`` spells the canonical JSON out by hand for speed; it must match canonical_json exactly,
    including quotes, backslashes, control characters and non-ASCII text, or old chains stop verifying."""

    rng = random.Random(7)
    alphabet = ["a", '"', "\\", "\n", "\x00", "\x1f", "\x7f", "é", "€", "😀", "\u2028", "/", " ", "\t"]

    def text() -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 10)))

    for _ in range(2000):
        fields = {
            "seq": rng.randint(1, 10**12),
            "at": datetime.fromtimestamp(rng.uniform(0, 4e9), UTC),
            "actor": text(),
            "action": text(),
            "model": rng.choice([None, text()]),
            "target": text(),
            "data_json": json.dumps({"after": text()}, ensure_ascii=False),
        }
        document = {**fields, "at": fields["at"].isoformat(), "data": fields["data_json"]}
        del document["data_json"]
        expected = hashlib.sha256(b"f" * 64 + canonical_json(document)).hexdigest()
        assert event_hash("f" * 64, **fields) == expected  # type: ignore[arg-type]


def test_audit_rows_map_onto_records_by_position() -> None:
    """``metadata.history.audit_record`` builds records positionally from ``select(audit_events)``."""

    fields = [field.name for field in dataclasses.fields(AuditRecord)]
    assert [column.name for column in audit_events.columns] == [
        "data" if name == "data_json" else name for name in fields
    ]
