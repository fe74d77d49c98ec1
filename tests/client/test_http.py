"""The HTTP backend's own duties, against a scripted server (``httpx.MockTransport``): what the real server
cannot be made to do on demand — drop a connection, answer 503, send HTML, corrupt a chunk.

The behaviour shared with the embedded SDK is the contract suite's (``tests/contracts``), run over HTTP too.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from modelreg import errors
from modelreg.client.http import HttpBackend
from modelreg.digest import sha256_bytes
from modelreg.registry.manifest import ChunkRef, FileRecord, Manifest
from modelreg.types import Lineage, ModelVersion
from tests.conftest import CutShort

Handler = Callable[[httpx.Request], httpx.Response]
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
DATA = b"chunk bytes" * 1000
DIGEST = sha256_bytes(DATA)
MANIFEST = Manifest.build([FileRecord("w.bin", len(DATA), DIGEST, (ChunkRef(DIGEST, len(DATA)),))])


def version(number: int = 1) -> ModelVersion:
    return ModelVersion(
        name="m",
        version=number,
        digest=MANIFEST.digest,
        files=(),
        size_bytes=len(DATA),
        metrics={},
        params={},
        tags={},
        description="",
        signature=None,
        lineage=Lineage(),
        stage="none",
        aliases=(),
        created_at=NOW,
        created_by="alice",
        updated_at=NOW,
    )


def error(status: int, code: str, message: str, **details: object) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": message, "details": details}})


def backend(handler: Handler, **options: object) -> HttpBackend:
    client = httpx.Client(transport=httpx.MockTransport(handler))
    return HttpBackend("http://registry.test:8080", client=client, backoff=0.001, **options)


def test_error_bodies_become_the_embedded_sdks_exceptions() -> None:
    answer = error(404, "MODEL_NOT_FOUND", "model 'nope' not found", name="nope")
    with pytest.raises(errors.ModelNotFound) as caught:
        backend(lambda request: answer).get_model("nope")
    assert (caught.value.message, caught.value.details) == ("model 'nope' not found", {"name": "nope"})


def test_a_body_that_is_not_our_error_shape_is_storage_unavailable_naming_the_url() -> None:
    html = httpx.Response(502, text="<html><body>Bad Gateway</body></html>")
    with pytest.raises(errors.StorageUnavailable) as caught:
        backend(lambda request: html, retries=0).get_model("m")
    assert "http://registry.test:8080/api/v1/models/m" in caught.value.message
    assert "HTTP 502" in caught.value.message and "Bad Gateway" in caught.value.message
    ok_but_html = httpx.Response(200, text="<html>login page</html>")
    with pytest.raises(errors.StorageUnavailable, match="not JSON"):
        backend(lambda request: ok_but_html).get_model("m")


def test_an_unreachable_server_is_storage_unavailable_not_an_httpx_error() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    reg = HttpBackend(f"http://127.0.0.1:{port}", retries=2, backoff=0.001)
    with pytest.raises(errors.StorageUnavailable) as caught:
        reg.get_model("m")
    assert f"http://127.0.0.1:{port}" in caught.value.message and "ConnectError" in caught.value.message
    assert caught.value.details["attempts"] == 3
    reg.close()


def test_reads_are_retried_on_503_then_succeed() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) < 3:
            return error(503, "STORAGE_UNAVAILABLE", "chunk store unavailable: timeout")
        return httpx.Response(200, json=version().to_dict())

    assert backend(handler).get_version("m/1") == version()
    assert len(calls) == 3


def test_retries_are_bounded() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return error(503, "STORAGE_UNAVAILABLE", "chunk store unavailable: timeout")

    with pytest.raises(errors.StorageUnavailable, match="timeout"):
        backend(handler, retries=3).get_version("m/1")
    assert len(calls) == 4


def test_a_commit_retried_after_a_lost_response_carries_the_same_idempotency_key() -> None:
    keys = []

    def handler(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers["Idempotency-Key"])
        if len(keys) == 1:
            raise httpx.ReadError("connection reset by peer")  # committed, but the answer is lost
        return httpx.Response(201, json=version(7).to_dict())

    assert backend(handler).commit_version("m", MANIFEST, metrics={"auc": 0.5}).version == 7
    assert len(keys) == 2 and keys[0] == keys[1] and len(keys[0]) == 32  # one uuid4 per commit
    keys.clear()
    backend(handler).commit_version("m", MANIFEST, idempotency_key="job-42")
    assert keys == ["job-42", "job-42"]


def test_writes_without_idempotency_are_not_repeated_once_they_may_have_arrived() -> None:
    calls = []

    def lost(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ReadError("connection reset by peer")

    with pytest.raises(errors.StorageUnavailable, match="ReadError"):
        backend(lost).set_alias("m", "champion", 1)
    assert len(calls) == 1

    def refused_once(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 2:
            raise httpx.ConnectError("connection refused")  # never sent: safe to send again
        return httpx.Response(
            200,
            json={
                "name": "m",
                "alias": "champion",
                "version": 1,
                "since": NOW.isoformat(),
                "until": None,
                "set_by": "alice",
                "ended_by": None,
            },
        )

    assert backend(refused_once).set_alias("m", "champion", 1).version == 1
    assert len(calls) == 3


def test_chunks_are_verified_on_arrival() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == f"/api/v1/models/m/versions/3/chunks/{DIGEST}"
        return httpx.Response(200, content=DATA[:-1] + b"!")

    with pytest.raises(errors.DigestMismatch) as caught:
        backend(handler).read_chunk("m/3", DIGEST)
    assert caught.value.details["expected"] == DIGEST


def test_a_manifest_that_does_not_match_the_version_digest_is_refused() -> None:
    other = Manifest.build([FileRecord("other.bin", len(DATA), DIGEST, (ChunkRef(DIGEST, len(DATA)),))])
    body = {"version": version().to_dict(), "manifest": other.to_json()}
    with pytest.raises(errors.DigestMismatch, match="does not match its digest"):
        backend(lambda request: httpx.Response(200, json=body)).manifest("m/1")


def test_chunk_uploads_send_the_exact_bytes_with_a_length_and_the_token() -> None:
    seen: list[httpx.Request] = []
    other = b"a second chunk"

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"stored": [True, False]})

    with memoryview(b"xx" + DATA + b"yy") as whole, whole[2:-2] as piece:
        chunks = [(DIGEST, piece), (sha256_bytes(other), other)]
        assert backend(handler, token="mrt_secret").put_chunks(chunks) == [True, False]
    request = seen[0]
    assert request.method == "POST" and request.url.path == "/api/v1/chunks"
    named = [f"{DIGEST}:{len(DATA)}", f"{sha256_bytes(other)}:{len(other)}"]
    assert request.url.params.get_list("chunk") == named
    assert request.read() == DATA + other and request.headers["Content-Length"] == str(len(DATA + other))
    assert "Transfer-Encoding" not in request.headers
    assert request.headers["Authorization"] == "Bearer mrt_secret"


@pytest.mark.parametrize("answer", [{"stored": [True]}, {"stored": "yes"}, {"stored": [1, 0]}, {}])
def test_an_upload_answer_of_the_wrong_shape_is_storage_unavailable(answer: dict[str, object]) -> None:
    chunks = [(DIGEST, DATA), (sha256_bytes(b"b"), b"b")]
    with pytest.raises(errors.StorageUnavailable):
        backend(lambda request: httpx.Response(200, json=answer)).put_chunks(chunks)


def test_references_and_keys_travel_as_the_contracts_path_segments() -> None:
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.raw_path.decode())
        return httpx.Response(200, json=version().to_dict())

    reg = backend(handler)
    for ref in ("m", "m/latest", "m/3", "m@champion", f"m@{DIGEST}", "models:/m/4"):
        reg.get_version(ref)
    reg.set_tag("m", "team/sub area", "v")
    reg.set_tag("models:/m", "k", "v")
    reg.update_description("m@champion", "d")
    assert paths == [
        "/api/v1/models/m/versions/latest",
        "/api/v1/models/m/versions/latest",
        "/api/v1/models/m/versions/3",
        "/api/v1/models/m/versions/@champion",
        f"/api/v1/models/m/versions/@{DIGEST}",
        "/api/v1/models/m/versions/4",
        "/api/v1/models/m/tags/team%2Fsub%20area",
        "/api/v1/models/m/versions/latest/tags/k",
        "/api/v1/models/m/versions/@champion",
    ]


def test_metadata_json_cannot_carry_gets_the_registrys_error_before_anything_is_sent() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"nothing should be sent: {request.url}")

    reg = backend(handler)
    with pytest.raises(errors.InvalidMetadata, match="not a finite number"):
        reg.commit_version("m", MANIFEST, metrics={"auc": float("nan")})
    with pytest.raises(errors.InvalidMetadata, match="invalid tag key"):
        reg.commit_version("m", MANIFEST, tags={1: "x"})
    with pytest.raises(errors.InvalidName):
        reg.commit_version("a/b", MANIFEST)
    with pytest.raises(errors.InvalidInput, match="printable ASCII"):
        reg.commit_version("m", MANIFEST, idempotency_key="clé\n")


def test_commit_body_is_the_contracts() -> None:
    bodies = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.read()))
        return httpx.Response(201, json=version().to_dict())

    backend(handler).commit_version(
        "m", MANIFEST, metrics={"auc": 1}, lineage=Lineage(run_id="r"), aliases=("a",)
    )
    assert bodies[0] == {
        "manifest": MANIFEST.to_json(),
        "metrics": {"auc": 1},
        "params": {},
        "tags": {},
        "description": "",
        "lineage": Lineage(run_id="r").to_dict(),
        "signature": None,
        "aliases": ["a"],
    }


def test_invalid_urls_and_tokens_are_refused_up_front() -> None:
    for url in ("ftp://host", "http://", "http://host/?q=1"):
        with pytest.raises(errors.InvalidInput, match="invalid registry URL"):
            HttpBackend(url)
    with pytest.raises(errors.InvalidInput, match="invalid token"):
        HttpBackend("http://host", token="mrt_\nx")


def test_a_commit_refused_for_garbage_collection_is_not_resent_blindly() -> None:
    # 503 like an outage, but resending cannot help: the chunks must be uploaded again first (push does).
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return error(503, "CHUNK_BEING_COLLECTED", "1 chunk(s) of this version are being garbage collected")

    with pytest.raises(errors.ChunkBeingCollected):
        backend(handler, retries=3).commit_version("m", MANIFEST)
    assert len(calls) == 1


def test_garbage_collection_posts_apply_and_retries_only_a_dry_run() -> None:
    report = {
        "applied": True,
        "grace_seconds": 86400.0,
        "scanned_chunks": 5,
        "referenced_chunks": 3,
        "protected_chunks": 0,
        "reclaimable_chunks": 2,
        "reclaimable_bytes": 2048,
        "deleted_chunks": 2,
        "deleted_bytes": 2048,
        "missing_chunks": 0,
        "mark_seconds": 0.5,
        "sweep_seconds": 0.25,
    }
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(json.loads(request.content))
        if len(calls) % 2:
            raise httpx.ReadError("connection reset by peer")
        return httpx.Response(200, json={**report, "applied": calls[-1]["apply"]})

    assert backend(handler).collect_garbage().to_dict() == {**report, "applied": False}
    assert calls == [{"apply": False}, {"apply": False}]  # a dry run is a read: resent after a lost answer
    calls.clear()
    with pytest.raises(errors.StorageUnavailable):
        backend(handler).collect_garbage(apply=True)  # a sweep may have run: not started a second time
    assert calls == [{"apply": True}]


PARTS = [b"first chunk " * 100, b"second chunk " * 200, b"third " * 50]
REFS = [ChunkRef(sha256_bytes(part), len(part)) for part in PARTS]


def _asked(request: httpx.Request) -> list[ChunkRef]:
    assert request.url.path == "/api/v1/models/m/versions/3/chunks/read"
    return [ChunkRef(item["digest"], item["size"]) for item in json.loads(request.content)["chunks"]]


def test_a_batch_is_split_by_size_and_verified_chunk_by_chunk() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = b"".join(PARTS[REFS.index(chunk)] for chunk in _asked(request))
        return httpx.Response(200, stream=httpx.ByteStream(body))  # one piece: split across chunks here

    assert list(backend(handler).read_chunks("m/3", [REFS[2], REFS[0], REFS[1]])) == [PARTS[2], *PARTS[:2]]

    def swapped(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=PARTS[1][: len(PARTS[0])] + PARTS[1])

    received = backend(swapped).read_chunks("m/3", REFS[:2])
    with pytest.raises(errors.DigestMismatch) as caught:
        next(received)
    assert caught.value.details["expected"] == REFS[0].digest

    def longer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=PARTS[0] + b"extra")

    with pytest.raises(errors.StorageUnavailable, match="more bytes"):
        list(backend(longer).read_chunks("m/3", REFS[:1]))


def test_a_batch_cut_short_is_resumed_from_the_first_chunk_not_received() -> None:
    asked: list[list[ChunkRef]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(_asked(request))
        body = b"".join(PARTS[REFS.index(chunk)] for chunk in asked[-1])
        if len(asked) == 1:  # the first answer stops part way into the second chunk
            return httpx.Response(200, stream=CutShort(body[: len(PARTS[0]) + 10]))
        return httpx.Response(200, content=body)

    assert list(backend(handler, retries=0).read_chunks("m/3", REFS)) == PARTS
    assert asked == [REFS, REFS[1:]]


def test_a_batch_cut_short_without_progress_is_retried_then_unavailable() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(200, stream=CutShort(PARTS[0][:5]))

    with pytest.raises(errors.StorageUnavailable, match="reading chunks of m/3"):
        list(backend(handler, retries=2).read_chunks("m/3", REFS))
    assert calls == 3


def test_a_batch_answers_the_servers_error_after_a_cut() -> None:
    """The server cut the body at a chunk it found damaged; asked again, it names the damage."""
    answers = [
        httpx.Response(200, stream=CutShort(PARTS[0])),
        error(422, "DIGEST_MISMATCH", f"stored chunk {REFS[1].digest} is corrupted"),
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        _asked(request)
        return answers.pop(0)

    received = backend(handler, retries=0).read_chunks("m/3", REFS)
    assert next(received) == PARTS[0]
    with pytest.raises(errors.DigestMismatch, match="is corrupted"):
        next(received)
