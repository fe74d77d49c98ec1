"""What only the S3 backend promises: its key layout, its requests, its errors, and its wiring into connect().

Against the session's moto server (``tests/conftest.py``). Failures moto cannot produce (throttling, access
denied, a racing conditional write) are played by botocore's own ``Stubber`` on a client of their own.
"""

from __future__ import annotations

import base64
import re
import socket
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import httpx
import pytest
from botocore.stub import Stubber

import modelreg
import modelreg.blobs
from modelreg.blobs.file import FileChunkStore
from modelreg.blobs.presign import PresigningStore
from modelreg.blobs.s3 import S3ChunkStore, make_client, parse_s3_url
from modelreg.connection import open_chunk_store
from modelreg.digest import Digest, digest_hex, sha256_bytes
from modelreg.errors import ChunkNotFound, DigestMismatch, InvalidInput, StorageUnavailable
from modelreg.settings import Settings
from tests.conftest import tree_bytes

DUMMY = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}


def stored(data: bytes) -> tuple[Digest, bytes]:
    return sha256_bytes(data), data


def keys(client: Any, bucket: str) -> list[str]:
    return sorted(entry["Key"] for entry in client.list_objects_v2(Bucket=bucket).get("Contents", ()))


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, s3_endpoint: str) -> str:
    """The environment a deployment would have: the standard AWS variables and MODELREG_S3_ENDPOINT_URL."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))  # this machine's ~/.aws stays out
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("MODELREG_S3_ENDPOINT_URL", s3_endpoint)
    return s3_endpoint


def test_keys_are_prefix_sha256_two_hex_digits_then_the_digest(s3_client: Any, s3_bucket: str) -> None:
    store = S3ChunkStore(s3_bucket, "/team/chunks/", client=s3_client)
    digest, data = stored(b"layout")
    assert store.put(digest, data) is True
    hex_ = digest_hex(digest)
    assert store.url == f"s3://{s3_bucket}/team/chunks"
    assert keys(s3_client, s3_bucket) == [f"team/chunks/sha256/{hex_[:2]}/{hex_}"]
    assert (
        s3_client.get_object(Bucket=s3_bucket, Key=f"team/chunks/sha256/{hex_[:2]}/{hex_}")["Body"].read()
        == data
    )


def test_without_a_prefix_chunks_start_at_the_bucket_root(s3_client: Any, s3_bucket: str) -> None:
    store = S3ChunkStore(s3_bucket, client=s3_client)
    digest, data = stored(b"root")
    store.put(digest, data)
    hex_ = digest_hex(digest)
    assert (store.url, keys(s3_client, s3_bucket)) == (f"s3://{s3_bucket}", [f"sha256/{hex_[:2]}/{hex_}"])
    assert list(store.iter()) == [digest]


def test_put_sends_its_sha256_for_s3_to_check_and_writes_only_if_absent(
    s3_endpoint: str, s3_bucket: str
) -> None:
    client = make_client(endpoint_url=s3_endpoint, session=boto3.session.Session(**DUMMY))
    sent: list[dict[str, str]] = []
    client.meta.events.register(
        "before-send.s3.PutObject", lambda request, **_: sent.append(dict(request.headers.items()))
    )
    store = S3ChunkStore(s3_bucket, "p", client=client)
    digest, data = stored(b"checked by S3 too")
    assert store.put(digest, data) is True
    assert store.put(digest, data) is False  # the server's 412, not a local check
    assert len(sent) == 2
    for headers in sent:
        assert headers["x-amz-checksum-sha256"] == base64.b64encode(bytes.fromhex(digest_hex(digest)))
        assert headers["If-None-Match"] == b"*"


def test_iter_lists_only_this_prefix_and_skips_objects_that_are_not_chunks(
    s3_client: Any, s3_bucket: str
) -> None:
    mine, neighbour = (
        S3ChunkStore(s3_bucket, "a", client=s3_client),
        S3ChunkStore(s3_bucket, "a-b", client=s3_client),
    )
    digest, data = stored(b"mine")
    other, other_data = stored(b"the neighbour's")
    mine.put(digest, data)
    neighbour.put(other, other_data)
    hex_ = digest_hex(other)
    for stray in ("a/sha256/README", f"a/sha256/00/{hex_}", f"a/sha256/{hex_[:2]}/{hex_}.tmp", "a/notes.txt"):
        s3_client.put_object(Bucket=s3_bucket, Key=stray, Body=b"not a chunk")
    assert list(mine.iter()) == [digest]
    assert list(neighbour.iter()) == [other]
    assert mine.missing([digest, other]) == {other}


def test_a_corrupted_object_fails_get_with_digest_mismatch(s3_client: Any, s3_bucket: str) -> None:
    store = S3ChunkStore(s3_bucket, "chunks", client=s3_client)
    digest, data = stored(b"the real bytes")
    store.put(digest, data)
    hex_ = digest_hex(digest)
    s3_client.put_object(Bucket=s3_bucket, Key=f"chunks/sha256/{hex_[:2]}/{hex_}", Body=b"tampered")
    with pytest.raises(DigestMismatch) as caught:
        store.get(digest)
    assert caught.value.message == (
        f"stored chunk {digest} is corrupted: its bytes hash to {sha256_bytes(b'tampered')}"
    )
    assert caught.value.details == {"digest": digest, "actual": sha256_bytes(b"tampered")}
    assert (store.exists(digest), store.size(digest)) == (True, len(b"tampered"))


def test_a_missing_bucket_is_storage_unavailable_naming_the_bucket(s3_client: Any, s3_endpoint: str) -> None:
    digest, data = stored(b"nowhere to go")
    calls = {
        "put": lambda store: store.put(digest, data),
        "get": lambda store: store.get(digest),
        "exists": lambda store: store.exists(digest),
        "missing": lambda store: store.missing([digest]),
        "size": lambda store: store.size(digest),
        "delete": lambda store: store.delete(digest),
        "iter": lambda store: list(store.iter()),
    }
    for name, call in calls.items():
        store = S3ChunkStore("modelreg-no-such-bucket", "p", client=s3_client)  # fresh: nothing remembered
        with pytest.raises(StorageUnavailable) as caught:
            call(store)
        assert caught.value.message == (
            "chunk store unavailable: bucket 'modelreg-no-such-bucket' does not exist "
            f"(s3://modelreg-no-such-bucket/p at {s3_endpoint})"
        ), name
        assert caught.value.details["code"] == "NoSuchBucket"
        assert caught.value.retryable is True


def test_an_unreachable_endpoint_is_storage_unavailable() -> None:
    with socket.socket() as probe:  # a port nothing listens on once this closes
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = make_client(
        endpoint_url=f"http://127.0.0.1:{port}", session=boto3.session.Session(**DUMMY), max_attempts=2
    )
    store = S3ChunkStore("modelreg-chunks", "p", client=client)
    with pytest.raises(StorageUnavailable) as caught:
        store.exists(sha256_bytes(b"x"))
    assert caught.value.message.startswith("chunk store unavailable: cannot reach chunks: Could not connect")
    assert caught.value.details["code"] == "EndpointConnectionError"


@pytest.fixture
def stubbed() -> Any:
    """A store whose S3 answers come from a script: its bucket exists; each test queues the rest."""
    client = make_client(endpoint_url="http://127.0.0.1:9", session=boto3.session.Session(**DUMMY))
    with Stubber(client) as stubber:
        stubber.add_response("head_bucket", {})
        yield S3ChunkStore("modelreg-chunks", "p", client=client), stubber
        stubber.assert_no_pending_responses()


def test_throttling_and_server_errors_are_retryable_storage_unavailable(stubbed: Any) -> None:
    store, stubber = stubbed
    digest = sha256_bytes(b"busy")
    stubber.add_client_error("get_object", "SlowDown", "Please reduce your request rate.", 503)
    stubber.add_client_error("head_object", "InternalError", "We encountered an internal error.", 500)
    for call in (store.get, store.exists):
        with pytest.raises(StorageUnavailable) as caught:
            call(digest)
        assert caught.value.retryable is True
        assert caught.value.details["code"] in {"SlowDown", "InternalError"}
        assert digest in caught.value.message


def test_access_denied_says_what_to_check(stubbed: Any) -> None:
    store, stubber = stubbed
    stubber.add_client_error("put_object", "AccessDenied", "Access Denied", 403)
    digest, data = stored(b"denied")
    with pytest.raises(StorageUnavailable) as caught:
        store.put(digest, data)
    assert "access to bucket 'modelreg-chunks' was denied (AccessDenied): check the AWS credentials" in (
        caught.value.message
    )


def test_a_conflicting_conditional_write_is_retried(stubbed: Any) -> None:
    # S3 answers 409 while another conditional write of the key is in flight; the retry then sees its result.
    store, stubber = stubbed
    first, second = stored(b"raced and lost"), stored(b"raced and won")
    stubber.add_client_error("put_object", "ConditionalRequestConflict", "conflict", 409)
    stubber.add_client_error("put_object", "PreconditionFailed", "At least one precondition failed", 412)
    stubber.add_client_error("put_object", "ConditionalRequestConflict", "conflict", 409)
    stubber.add_response("put_object", {})
    assert store.put(*first) is False
    assert store.put(*second) is True


def test_the_client_keeps_a_pool_for_parallel_transfers_and_retries_in_standard_mode() -> None:
    client = make_client(endpoint_url="http://127.0.0.1:9", session=boto3.session.Session(**DUMMY))
    assert client.meta.config.max_pool_connections >= 16
    assert client.meta.config.retries["mode"] == "standard"
    assert client.meta.config.s3 == {"addressing_style": "path"}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("s3://chunks", ("chunks", "")),
        ("s3://chunks/", ("chunks", "")),
        ("s3://my.bucket-1/models/prod/", ("my.bucket-1", "models/prod")),
    ],
)
def test_s3_urls_name_a_bucket_and_a_prefix(url: str, expected: tuple[str, str]) -> None:
    assert parse_s3_url(url) == expected


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("s3://", "expected s3://bucket/prefix"),
        ("s3:///prefix", "expected s3://bucket/prefix"),
        ("s3://AKIA:secret@chunks/p", "credentials come from the AWS chain"),
        ("s3://chunks:9000/p", "is not a valid S3 bucket name"),
        ("s3://b/p", "is not a valid S3 bucket name"),
        ("s3://chunks/p?region=eu-west-1", "take no query or fragment"),
        ("s3://chunks/a//b", "empty, '.' and '..' prefix segments are not allowed"),
        ("s3://chunks/a/../b", "empty, '.' and '..' prefix segments are not allowed"),
    ],
)
def test_bad_s3_urls_are_invalid_input(url: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        open_chunk_store(url)
    assert caught.value.message.startswith(f"invalid storage URL {url!r}: ")
    assert reason in caught.value.message


def test_open_chunk_store_takes_endpoint_and_region_from_settings(
    aws_env: str, s3_client: Any, s3_bucket: str
) -> None:
    store = open_chunk_store(
        f"s3://{s3_bucket}/models", settings=Settings(s3_endpoint_url=aws_env, s3_region="eu-west-1")
    )
    assert isinstance(store, S3ChunkStore)
    assert store.url == f"s3://{s3_bucket}/models"
    assert store._client.meta.region_name == "eu-west-1"
    digest, data = stored(b"through open_chunk_store")
    assert store.put(digest, data) is True
    assert store.get(digest) == data
    assert keys(s3_client, s3_bucket) == [f"models/sha256/{digest_hex(digest)[:2]}/{digest_hex(digest)}"]
    # Without settings, the environment's: MODELREG_S3_ENDPOINT_URL and the standard AWS variables.
    from_env = open_chunk_store(f"s3://{s3_bucket}/models")
    assert from_env.get(digest) == data
    assert isinstance(from_env, S3ChunkStore)
    assert from_env._client.meta.region_name == "us-east-1"


def test_connect_pushes_and_pulls_through_s3(
    aws_env: str, s3_client: Any, s3_bucket: str, model_dir: Path, tmp_path: Path
) -> None:
    with modelreg.connect(tmp_path / "registry", storage=f"s3://{s3_bucket}/models", actor="alice") as reg:
        first = reg.push("churn", model_dir)
        listed = s3_client.list_objects_v2(Bucket=s3_bucket)["Contents"]
        objects = [entry["Key"] for entry in listed]
        assert all(re.fullmatch(r"models/sha256/([0-9a-f]{2})/\1[0-9a-f]{62}", key) for key in objects)
        assert sum(entry["Size"] for entry in listed) == first.size_bytes  # every byte, once, in S3
        assert not (tmp_path / "registry" / "chunks").exists()  # the directory registry keeps only metadata
        (model_dir / "config.json").write_text('{"layers": 4}')
        second = reg.push("churn", model_dir)
        assert len(keys(s3_client, s3_bucket)) == len(objects) + 1  # only the changed file's one chunk
        pulled = reg.pull("churn/1", dest=tmp_path / "pulled")
    assert second.version == 2
    expected = tree_bytes(model_dir) | {"config.json": b'{"layers": 3}'}
    assert tree_bytes(Path(pulled)) == expected


def test_without_the_s3_extra_an_s3_url_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # what `import boto3` meets when it is not installed
    monkeypatch.delitem(sys.modules, "modelreg.blobs.s3")
    monkeypatch.delattr(modelreg.blobs, "s3")
    with pytest.raises(InvalidInput) as caught:
        open_chunk_store("s3://chunks/p")
    assert caught.value.message == "storage URL 's3://chunks/p' needs boto3: pip install 'modelreg[s3]'"


def test_a_missing_chunk_is_chunk_not_found(s3_client: Any, s3_bucket: str) -> None:
    store = S3ChunkStore(s3_bucket, "p", client=s3_client)
    digest = sha256_bytes(b"absent")
    for call in (store.get, store.size, store.modified):
        with pytest.raises(ChunkNotFound):
            call(digest)
    assert (store.exists(digest), store.delete(digest), store.missing([digest])) == (False, False, {digest})


# Direct transfers (blobs/presign.py, blobs/s3_presign.py) ---------------------------------------------------
def test_a_presigned_put_is_sigv4_and_signs_the_checksum_and_the_create_only_condition(
    s3_client: Any, s3_bucket: str
) -> None:
    store = S3ChunkStore(s3_bucket, "p", client=s3_client)
    digest, data = stored(b"presigned")
    request = store.presign_put(digest, expires_in=900)
    query = parse_qs(urlsplit(request.url).query)
    assert (request.method, request.expires_in, urlsplit(request.url).path) == (
        "PUT",
        900,
        f"/{s3_bucket}/p/sha256/{digest_hex(digest)[:2]}/{digest_hex(digest)}",
    )
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"] and query["X-Amz-Expires"] == ["900"]
    assert query["X-Amz-SignedHeaders"] == ["host;if-none-match;x-amz-checksum-sha256"]
    checksum = base64.b64encode(bytes.fromhex(digest_hex(digest))).decode()
    assert dict(request.headers) == {"x-amz-checksum-sha256": checksum, "If-None-Match": "*"}
    assert httpx.put(request.url, content=data, headers=dict(request.headers)).status_code == 200
    assert httpx.put(request.url, content=data, headers=dict(request.headers)).status_code == 412
    fetched = store.presign_get(digest, expires_in=60)
    assert (fetched.method, fetched.headers, httpx.get(fetched.url).content) == ("GET", {}, data)
    assert isinstance(store, PresigningStore)
    assert not isinstance(FileChunkStore(Path("/nonexistent")), PresigningStore)


def test_the_checksum_probe_tells_moto_from_a_store_that_enforces_it_and_leaves_nothing(
    s3_client: Any, s3_bucket: str, strict_s3_endpoint: str
) -> None:
    plain = S3ChunkStore(s3_bucket, "p", client=s3_client)
    assert plain.enforces_checksums() is False
    assert keys(s3_client, s3_bucket) == []  # the probe's wrong body was deleted again
    strict_client = make_client(endpoint_url=strict_s3_endpoint, session=boto3.session.Session(**DUMMY))
    strict_client.create_bucket(Bucket=s3_bucket)
    assert S3ChunkStore(s3_bucket, client=strict_client).enforces_checksums() is True
    assert keys(strict_client, s3_bucket) == []


def test_verify_uploads_reads_back_where_checksums_are_not_enforced(s3_client: Any, s3_bucket: str) -> None:
    store = S3ChunkStore(s3_bucket, "p", client=s3_client)
    good, good_data = stored(b"a good upload")
    bad, _ = stored(b"what the digest names")
    store.put(good, good_data)
    s3_client.put_object(Bucket=s3_bucket, Key=store._key(bad), Body=b"tampered")
    store.verify_uploads({good: len(good_data)})
    with pytest.raises(DigestMismatch, match="it was removed: upload it again"):
        store.verify_uploads({good: len(good_data), bad: 21})
    assert store.exists(bad) is False and store.exists(good) is True
    with pytest.raises(InvalidInput, match="another size than the manifest says"):
        store.verify_uploads({good: 1})
    with pytest.raises(ChunkNotFound):
        store.verify_uploads({bad: 21})


def test_verify_uploads_trusts_the_checksum_a_strict_store_computed(strict_s3_endpoint: str) -> None:
    client = make_client(endpoint_url=strict_s3_endpoint, session=boto3.session.Session(**DUMMY))
    bucket = "modelreg-strict-verify"
    client.create_bucket(Bucket=bucket)
    store = S3ChunkStore(bucket, client=client)
    good, good_data = stored(b"checked by the store")
    store.put(good, good_data)
    head = client.head_object(Bucket=bucket, Key=store._key(good), ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == base64.b64encode(bytes.fromhex(digest_hex(good))).decode()
    store.verify_uploads({good: len(good_data)})
    with pytest.raises(InvalidInput, match="another size"):
        store.verify_uploads({good: 3})
    # An object written without any checksum (another tool): only its bytes can tell, so they are read.
    bare, _ = stored(b"no checksum")
    client.put_object(Bucket=bucket, Key=store._key(bare), Body=b"not those bytes")
    with pytest.raises(DigestMismatch):
        store.verify_uploads({bare: 11})
    assert store.exists(bare) is False
