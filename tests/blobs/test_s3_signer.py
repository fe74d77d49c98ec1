"""``blobs/s3_signer.py``: the S3 store's presigned URLs and HEADs without boto3's per-call pipeline.

Its URLs must be the ones boto3 itself would sign (compared here byte for byte, for path-style and
virtual-hosted endpoints, in several regions, with a session token): that is what makes them valid on S3,
which moto does not check. Its HEADs run against the session's moto server, and against a scripted HTTP
server on loopback for the answers moto cannot give (403, 5xx, a server that never answers well).
"""

from __future__ import annotations

import base64
import http.server
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

import boto3
import pytest
from botocore.config import Config

from modelreg.blobs.s3 import S3ChunkStore, make_client
from modelreg.blobs.s3_signer import Head, HeadFailed, ObjectSigner
from modelreg.digest import digest_hex, sha256_bytes
from modelreg.errors import StorageUnavailable

BASE = "team/models and more/sha256/"  # a prefix botocore must percent-encode
NAME = "ab/ab" + "0" * 62
CHECKSUM = base64.b64encode(bytes(32)).decode()


def client(endpoint: str | None, region: str, addressing: str | None, token: str | None = None) -> Any:
    session = boto3.session.Session(
        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret", aws_session_token=token
    )
    config = Config(signature_version="s3v4", s3={"addressing_style": addressing} if addressing else None)
    return session.client("s3", endpoint_url=endpoint, region_name=region, config=config)


def same_second(first: Any, second: Any) -> tuple[str, str]:
    """Both URLs, signed within one second (SigV4 signs the time): again if a second boundary fell between."""
    for _ in range(5):
        pair = first(), second()
        if pair[0].split("X-Amz-Date=")[1][:16] == pair[1].split("X-Amz-Date=")[1][:16]:
            return pair
    raise AssertionError("could not sign twice within one second")


@pytest.mark.parametrize(
    ("endpoint", "region", "addressing", "token"),
    [
        ("http://127.0.0.1:9000", "us-east-1", "path", None),  # MinIO, moto: an endpoint of one's own
        (None, "us-east-1", None, None),  # AWS, default (virtual-hosted) addressing
        (None, "eu-west-1", "virtual", "session-token"),  # temporary credentials sign their token too
        (None, "ap-southeast-2", "path", None),
    ],
)
def test_presigned_urls_are_the_ones_boto3_signs(
    endpoint: str | None, region: str, addressing: str | None, token: str | None
) -> None:
    s3 = client(endpoint, region, addressing, token)
    signer = ObjectSigner(s3, "my-bucket", BASE)
    put_params = {"Bucket": "my-bucket", "Key": BASE + NAME, "ChecksumSHA256": CHECKSUM, "IfNoneMatch": "*"}
    ours, theirs = same_second(
        lambda: signer.presign(
            "PUT", NAME, {"x-amz-checksum-sha256": CHECKSUM, "If-None-Match": "*"}, expires_in=900
        ),
        lambda: s3.generate_presigned_url("put_object", Params=put_params, ExpiresIn=900),
    )
    assert ours == theirs
    assert "X-Amz-SignedHeaders=host%3Bif-none-match%3Bx-amz-checksum-sha256" in ours
    ours, theirs = same_second(
        lambda: signer.presign("GET", NAME, {}, expires_in=3600),
        lambda: s3.generate_presigned_url(
            "get_object", Params={"Bucket": "my-bucket", "Key": BASE + NAME}, ExpiresIn=3600
        ),
    )
    assert ours == theirs


def test_a_head_answers_size_and_stored_checksum_or_none(strict_s3_endpoint: str) -> None:
    s3 = scripted_client(strict_s3_endpoint)
    s3.create_bucket(Bucket="modelreg-signer")
    data = b"a chunk's bytes" * 100
    digest = sha256_bytes(data)
    store = S3ChunkStore("modelreg-signer", "p", client=s3)
    assert store.put(digest, data) is True
    signer = ObjectSigner(s3, "modelreg-signer", "p/sha256/")
    checksum = base64.b64encode(bytes.fromhex(digest_hex(digest))).decode()
    name = f"{digest_hex(digest)[:2]}/{digest_hex(digest)}"
    assert signer.head(name) == Head(len(data), checksum)
    assert signer.head(name.replace(digest_hex(digest)[-4:], "0000")) is None
    assert store.missing([digest, sha256_bytes(b"absent")]) == {sha256_bytes(b"absent")}


class Script(http.server.BaseHTTPRequestHandler):
    """Answers each HEAD with the next status of ``statuses`` (the last one repeats), counting them."""

    statuses: ClassVar[list[int]] = []
    seen: ClassVar[list[str]] = []

    def do_HEAD(self) -> None:
        Script.seen.append(self.path)
        status = Script.statuses.pop(0) if len(Script.statuses) > 1 else Script.statuses[0]
        self.send_response(status)
        self.send_header("Content-Length", "5")
        self.send_header("x-amz-checksum-sha256", CHECKSUM)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def scripted() -> Iterator[tuple[str, type[Script]]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Script)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Script.seen = []
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", Script
    finally:
        server.shutdown()
        server.server_close()


def scripted_client(endpoint: str) -> Any:
    """A client as ``open_chunk_store`` builds one, with dummy credentials and 3 attempts per request."""
    session = boto3.session.Session(aws_access_key_id="t", aws_secret_access_key="t", region_name="us-east-1")
    return make_client(endpoint_url=endpoint, session=session, max_attempts=3)


def test_server_errors_are_retried_as_botocore_retries_them(scripted: tuple[str, type[Script]]) -> None:
    endpoint, script = scripted
    script.statuses = [503, 500, 200]
    signer = ObjectSigner(scripted_client(endpoint), "chunks", "p/sha256/")
    assert signer.head(NAME) == Head(5, CHECKSUM)
    assert script.seen == [f"/chunks/p/sha256/{NAME}"] * 3
    script.statuses, script.seen = [502], []
    with pytest.raises(HeadFailed) as caught:
        signer.head(NAME)
    assert (caught.value.code, len(script.seen)) == ("502", 3)  # max_attempts, then the last answer


def test_a_refusal_is_not_retried_and_reads_as_the_stores_error(scripted: tuple[str, type[Script]]) -> None:
    endpoint, script = scripted
    script.statuses = [200, 403]  # the bucket's HEAD (boto3, once per store), then every chunk's
    store = S3ChunkStore("chunks", "p", client=scripted_client(endpoint))
    with pytest.raises(StorageUnavailable) as caught:
        store.missing([sha256_bytes(b"x")])
    assert len(script.seen) == 2  # the bucket, then one HEAD: a 403 is not retried
    assert caught.value.details["code"] == "403"
    assert "access to bucket 'chunks' was denied (403): check the AWS credentials" in caught.value.message
    assert caught.value.retryable is True


def test_a_server_that_stops_answering_is_storage_unavailable(scripted: tuple[str, type[Script]]) -> None:
    endpoint, script = scripted
    script.statuses = [200]
    store = S3ChunkStore("chunks", "p", client=scripted_client(endpoint))
    store._check_bucket()
    signer = store._signer
    scripted_server_port = endpoint.rsplit(":", 1)[1]
    signer._url = signer._url.replace(scripted_server_port, "9")  # port 9 (discard): nothing listens there
    with pytest.raises(StorageUnavailable) as caught:
        store.missing([sha256_bytes(b"x")])
    assert caught.value.details["code"] == "EndpointConnectionError"
    assert caught.value.message.startswith("chunk store unavailable: cannot check chunk sha256:")
