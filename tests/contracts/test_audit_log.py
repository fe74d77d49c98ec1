"""The audit log through the SDK (both implementations, SQLite and PostgreSQL): listing with filters and
paging, and verification that names the first bad event after each kind of tampering."""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy
from fastapi.testclient import TestClient

import modelreg
from modelreg import errors
from modelreg.access import Actor
from modelreg.api import create_app
from modelreg.client.client import Client
from modelreg.connection import open_stores
from modelreg.metadata.engine import make_engine
from modelreg.metadata.tables import audit_events, audit_head
from modelreg.registry.audit import GENESIS, event_hash
from modelreg.registry.service import Registry
from modelreg.settings import Settings


@pytest.fixture
def history(reg: Client, model_dir: Path) -> Client:
    """Events 1-8: two models created, two versions, an alias set and moved, a tag, a stage."""
    reg.push("churn", model_dir)  # 1 model:create, 2 version:create
    reg.push("fraud", model_dir)  # 3, 4
    reg.push("churn", model_dir, aliases=["champion"])  # 5 version:create (alias set inside the commit)
    reg.set_alias("churn", "champion", 1)  # 6
    reg.set_tag("fraud", "team", "risk")  # 7
    reg.set_stage("churn/1", "production")  # 8
    return reg


def _tamper(database: str, *statements: sqlalchemy.Executable) -> None:
    engine = make_engine(database)
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(statement)
    engine.dispose()


def test_events_in_order_with_chain_fields(history: Client) -> None:
    events = history.audit_events(limit=1000).items
    assert [event.seq for event in events] == list(range(1, len(events) + 1))
    assert events[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
    assert {event.actor for event in events} == {"alice"}
    tag = next(event for event in events if event.action == "registry:tag:set")
    assert (tag.model, tag.target, tag.data["after"], tag.data["key"]) == ("fraud", "fraud", "risk", "team")


def test_filters(history: Client) -> None:
    every = history.audit_events(limit=1000).items
    churn = history.audit_events(model="churn").items
    assert churn and {event.model for event in churn} == {"churn"}
    assert len(churn) == sum(event.model == "churn" for event in every)
    aliases = history.audit_events(action="registry:alias:*").items
    assert aliases and all(event.action.startswith("registry:alias:") for event in aliases)
    assert [e.action for e in history.audit_events(action="registry:stage:set").items] == [
        "registry:stage:set"
    ]
    assert history.audit_events(actor="bob").items == []
    middle = every[3].at
    later = history.audit_events(since=middle).items
    assert later and all(event.at >= middle for event in later)
    earlier = history.audit_events(until=middle.isoformat()).items
    assert earlier and all(event.at < middle for event in earlier)
    assert len(earlier) + len(later) == len(every)
    assert history.audit_events(since=every[-1].at + timedelta(seconds=1)).items == []


def test_paging(history: Client) -> None:
    every = history.audit_events(limit=1000).items
    seen, token = [], None
    while True:
        page = history.audit_events(limit=3, page_token=token)
        seen.extend(page.items)
        token = page.next_page_token
        if token is None:
            break
    assert [event.seq for event in seen] == [event.seq for event in every]
    first = history.audit_events(limit=3, model="churn")
    with pytest.raises(errors.InvalidPageToken):
        history.audit_events(limit=3, model="fraud", page_token=first.next_page_token)


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"action": "alias set"}, "invalid action"),
        ({"action": "registry:*:set"}, "invalid action"),
        ({"model": "bad name"}, "invalid model name"),
        ({"actor": ""}, "invalid actor"),
        ({"since": "2026-01-01"}, "ISO 8601"),
        ({"until": "soon"}, "ISO 8601"),
        ({"limit": 0}, "limit"),
    ],
)
def test_bad_filters(history: Client, filters: dict[str, object], message: str) -> None:
    with pytest.raises(errors.InvalidInput, match=message):
        history.audit_events(**filters)  # type: ignore[arg-type]


def test_an_untouched_chain_verifies_and_anchors(history: Client) -> None:
    result = history.verify_audit()
    events = history.audit_events(limit=1000).items
    assert (result.ok, result.first_bad_seq, result.reason) == (True, None, None)
    assert (result.events, result.head_seq, result.head_hash) == (
        len(events),
        events[-1].seq,
        events[-1].hash,
    )
    anchored = history.verify_audit(anchor=f"{events[2].seq}:{events[2].hash}")
    assert anchored.ok
    wrong = history.verify_audit(anchor=f"{events[2].seq}:{'f' * 64}")
    assert (wrong.ok, wrong.first_bad_seq) == (False, 3)
    beyond = history.verify_audit(anchor=f"{result.head_seq + 5}:{events[0].hash}")
    assert (beyond.ok, beyond.first_bad_seq) == (False, result.head_seq + 5)
    with pytest.raises(errors.InvalidInput, match="anchor"):
        history.verify_audit(anchor="3-abc")


def test_an_edited_field_is_found(history: Client, database: str) -> None:
    _tamper(database, sqlalchemy.update(audit_events).where(audit_events.c.seq == 4).values(actor="mallory"))
    result = history.verify_audit()
    assert (result.ok, result.first_bad_seq, result.events) == (False, 4, 3)
    assert "altered" in (result.reason or "")


def test_edited_data_with_a_recomputed_hash_breaks_the_next_link(history: Client, database: str) -> None:
    """A forger who recomputes the edited event's hash still breaks the link from the event after it."""

    event = history.audit_events(limit=1000).items[4]
    forged = event_hash(
        event.prev_hash,
        seq=event.seq,
        at=event.at,
        actor=event.actor,
        action=event.action,
        model=event.model,
        target=event.target,
        data_json='{"forged":true}',
    )
    _tamper(
        database,
        sqlalchemy.update(audit_events)
        .where(audit_events.c.seq == event.seq)
        .values(data='{"forged":true}', hash=forged),
    )
    result = history.verify_audit()
    assert (result.ok, result.first_bad_seq) == (False, event.seq + 1)
    assert "does not link" in (result.reason or "")


def test_a_deleted_event_is_found(history: Client, database: str) -> None:
    _tamper(database, sqlalchemy.delete(audit_events).where(audit_events.c.seq == 5))
    result = history.verify_audit()
    assert (result.ok, result.first_bad_seq) == (False, 5)
    assert "missing" in (result.reason or "")


def test_swapped_events_are_found(history: Client, database: str) -> None:
    table = audit_events
    _tamper(
        database,
        sqlalchemy.update(table).where(table.c.seq == 3).values(seq=-3),
        sqlalchemy.update(table).where(table.c.seq == 4).values(seq=3),
        sqlalchemy.update(table).where(table.c.seq == -3).values(seq=4),
    )
    result = history.verify_audit()
    assert (result.ok, result.first_bad_seq) == (False, 3)


def test_a_truncated_tail_is_found(history: Client, database: str) -> None:
    head = history.verify_audit().head_seq
    _tamper(database, sqlalchemy.delete(audit_events).where(audit_events.c.seq > head - 2))
    result = history.verify_audit()
    assert (result.ok, result.first_bad_seq, result.events) == (False, head - 1, head - 2)


def test_a_truncated_tail_and_head_is_found_by_the_anchor(history: Client, database: str) -> None:
    """Rewinding the head row too hides a truncation from the chain; an anchor kept elsewhere finds it."""
    events = history.audit_events(limit=1000).items
    last = events[-1]
    _tamper(
        database,
        sqlalchemy.delete(audit_events).where(audit_events.c.seq == last.seq),
        sqlalchemy.update(audit_head).values(seq=last.seq - 1, hash=events[-2].hash),
    )
    assert history.verify_audit().ok
    result = history.verify_audit(anchor=f"{last.seq}:{last.hash}")
    assert (result.ok, result.first_bad_seq) == (False, last.seq)


def _pull_events(client: Client) -> list[tuple[str, str]]:
    return [(e.target, e.data["digest"]) for e in client.audit_events(action="registry:version:pull").items]


def test_production_pulls_are_audited_when_configured(
    database: str, storage_url: str, model_dir: Path, tmp_path: Path
) -> None:

    settings = Settings(audit_production_pulls=True)
    with modelreg.connect(database, storage=storage_url, actor="alice", settings=settings) as client:
        staged = client.push("churn", model_dir)
        live = client.push("churn", model_dir, tags={"n": "2"})
        client.set_stage("churn/2", "production")
        client.pull("churn/1", dest=tmp_path / "one")
        client.pull("churn/2", dest=tmp_path / "two")
        client.pull("churn/2", dest=tmp_path / "three")
        assert staged.stage == "none"
        assert _pull_events(client) == [("churn/2", live.digest)] * 2
    with modelreg.connect(database, storage=storage_url, actor="alice") as quiet:  # the default: off
        quiet.pull("churn/2", dest=tmp_path / "four")
        assert len(_pull_events(quiet)) == 2


def test_production_downloads_over_http_are_audited(database: str, storage_url: str, model_dir: Path) -> None:

    with modelreg.connect(database, storage=storage_url, actor="alice") as client:
        client.push("churn", model_dir)
        client.set_stage("churn/1", "production")
    metadata, chunks = open_stores(database, storage=storage_url)
    registry = Registry(metadata, chunks, actor=Actor("server", role="none"), audit_production_pulls=True)
    with TestClient(create_app(registry, on_close=metadata.close)) as http:
        answer = http.get("/api/v1/models/churn/versions/1/files/config.json")
        assert (answer.status_code, answer.content) == (200, b'{"layers": 3}')
    with modelreg.connect(database, storage=storage_url, actor="alice") as client:
        events = client.audit_events(action="registry:version:pull").items
        assert [(e.actor, e.target) for e in events] == [("anonymous", "churn/1")]


def test_an_event_that_cannot_be_appended_fails_the_whole_change(history: Client, database: str) -> None:
    """The next sequence number taken behind the registry's back: the append fails (on PostgreSQL it runs on
    the driver's cursor, not through SQLAlchemy), the change is refused with STORAGE_UNAVAILABLE and rolled
    back with its event: the alias stays where it was, the chain is as it was."""
    before = history.audit_events(limit=1000).items
    last = before[-1]
    squatter = {
        "seq": last.seq + 1,
        "at": last.at,
        "actor": "mallory",
        "action": "registry:alias:set",
        "model": "churn",
        "target": "churn@champion",
        "data": "{}",
        "prev_hash": last.hash,
        "hash": "f" * 64,
    }
    _tamper(database, sqlalchemy.insert(audit_events).values(**squatter))
    with pytest.raises(errors.StorageUnavailable):
        history.set_alias("churn", "champion", 2)
    assert history.get_model("churn").aliases == {"champion": 1}
    after = history.audit_events(limit=1000).items
    assert [event.hash for event in after[: len(before)]] == [event.hash for event in before]
    assert [event.actor for event in after[len(before) :]] == ["mallory"]
