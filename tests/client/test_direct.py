"""``client.direct.DirectChannel``: presigned requests against the session's moto server, and every way a
ticket can be unusable (expired, malformed, unreachable, refused), each of which means "use the API"."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

from modelreg.blobs.s3 import S3ChunkStore
from modelreg.client.direct import DirectChannel, Ticket
from modelreg.digest import Digest, sha256_bytes


@pytest.fixture
def channel() -> Any:
    direct = DirectChannel(timeout=5.0, retries=1, backoff=0.01, pool_size=4)
    yield direct
    direct.close()


@pytest.fixture
def store(s3_client: Any, s3_bucket: str) -> S3ChunkStore:
    return S3ChunkStore(s3_bucket, "chunks", client=s3_client)


def wire(request: Any) -> dict[str, Any]:
    data: dict[str, Any] = request.to_dict()
    return data


def test_a_put_ticket_stores_once_then_reports_the_chunk_present(
    channel: DirectChannel, store: S3ChunkStore
) -> None:
    data = b"direct" * 1000
    digest = sha256_bytes(data)
    channel.offer_uploads({digest: wire(store.presign_put(digest, expires_in=600))})
    assert channel.put(digest, memoryview(data)) is True
    assert store.get(digest) == data
    assert channel.put(digest, data) is None  # a ticket is used once: the next put asks the API
    channel.offer_uploads({digest: wire(store.presign_put(digest, expires_in=600))})
    assert channel.put(digest, data) is False  # If-None-Match: the object is there


def test_a_get_ticket_returns_verified_bytes_and_asks_for_a_window(
    channel: DirectChannel, store: S3ChunkStore
) -> None:
    chunks = [bytes([n]) * 2000 for n in range(5)]
    digests = [sha256_bytes(chunk) for chunk in chunks]
    for digest, chunk in zip(digests, chunks, strict=True):
        store.put(digest, chunk)
    asked: list[list[str]] = []

    def ask(ref: str, wanted: list[str]) -> dict[str, Any]:
        asked.append(wanted)
        return {d: wire(store.presign_get(Digest(d), expires_in=600)) for d in wanted}

    channel.remember("m/1", digests)
    assert channel.get("m/1", digests[2], ask) == chunks[2]
    assert [channel.get("m/1", d, ask) for d in digests] == chunks
    # One request for the 3rd chunk and those after it, one for the two before: never one per chunk.
    assert asked == [digests[2:], digests[:2]]
    assert channel.get("m/2", digests[0], ask) is None  # a version the server offered nothing for
    assert channel.get("m/1", sha256_bytes(b"not in it"), ask) is None


def test_bytes_that_fail_their_sha256_are_not_returned(channel: DirectChannel, store: S3ChunkStore) -> None:
    digest = sha256_bytes(b"good" * 100)
    store._client.put_object(Bucket=store.bucket, Key=store._key(digest), Body=b"bad")
    channel.remember("m/1", [digest])
    got = channel.get(
        "m/1", digest, lambda ref, wanted: {digest: wire(store.presign_get(digest, expires_in=600))}
    )
    assert got is None  # the caller then reads it through the API, which reports the corruption


def test_expired_malformed_and_foreign_tickets_are_not_used(channel: DirectChannel) -> None:
    digest = sha256_bytes(b"x")
    now = time.monotonic()
    assert Ticket.from_wire(
        {"method": "PUT", "url": "u", "headers": {}, "expires_in": 900}, received=now
    ).deadline == (now + 840)
    channel.offer_uploads(
        {digest: {"method": "PUT", "url": "http://127.0.0.1:1/", "headers": {}, "expires_in": 0}}
    )
    assert channel.put(digest, b"x") is None  # expired on arrival: no request made
    channel.offer_uploads({digest: {"method": "PUT", "url": 7}})  # no headers, no expiry
    channel.offer_uploads(["not", "a", "mapping"])
    assert channel.put(digest, b"x") is None
    channel.offer_uploads({digest: {"method": "GET", "url": "http://x/", "headers": {}, "expires_in": 600}})
    assert channel.put(digest, b"x") is None  # a GET ticket never uploads


def test_an_unreachable_object_store_falls_back_to_the_api_after_retries(channel: DirectChannel) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    digest = sha256_bytes(b"x")
    ticket = {"method": "PUT", "url": f"http://127.0.0.1:{port}/b/k", "headers": {}, "expires_in": 600}
    channel.offer_uploads({digest: ticket})
    started = time.monotonic()
    assert channel.put(digest, b"x") is None
    assert time.monotonic() - started < 5
