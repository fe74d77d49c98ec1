"""Chunks in an S3 bucket, or on any S3-protocol server (MinIO, Ceph RGW, R2, moto): one object per chunk.

    s3://<bucket>/<prefix>/
    └── sha256/
        └── 2c/
            └── 2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae   (the chunk's bytes)

S3 has no directories, so one level of 256 hex prefixes is all the layout there is; it is there because S3
scales request rates per key prefix (about 3,500 writes and 5,500 reads per second each), so a push's
parallel writes spread over 256 of them instead of queueing on one.

A put verifies sha256 locally (``check_chunk``), then makes one ``PutObject`` with

- ``ChecksumSHA256`` (base64 of the raw digest): S3 hashes what it received and refuses the write when the
  body was damaged on the way (``BadDigest``), so a stored object always matches its name;
- ``IfNoneMatch='*'``: create-only. S3 publishes an object atomically (readers see all of it or nothing), and
  of several concurrent writers of one digest exactly one succeeds; the others get 412 and report False.
  A 409 (``ConditionalRequestConflict``: a racing write still in flight) is retried.

Within one process, writers of the same digest also take turns (``_one_writer``): the followers' PUTs meet
the finished object and get their 412, whatever the server's locking. A lost response can make a put that
wrote report False after botocore's retry sees the 412; a server that ignores ``If-None-Match`` overwrites
the object with the same bytes. Both are harmless: keys are content addresses, so every version of an object
is the same bytes.

Every get re-hashes what it read. ``missing`` sends HEADs in parallel (S3 has no batch HEAD), signed and
sent by ``blobs/s3_signer.py`` rather than through boto3's per-call pipeline: its cost follows the question,
where listing the prefixes would follow the size of the store (see ``docs/architecture.md`` for the
measurement). The store needs ``s3:ListBucket`` on the bucket (without it S3 answers 403 instead of 404 for
an absent chunk) and ``s3:GetObject``, ``PutObject``, ``DeleteObject`` under the prefix. botocore's errors
never leave this module: they become ``ChunkNotFound`` or ``StorageUnavailable``.

The store can also presign (``blobs.presign.PresigningStore``, for ``serve --direct-transfers``): the
presigned requests, the checksum probe and the commit's upload checks are in ``blobs/s3_presign.py``.
"""

from __future__ import annotations

import base64
import contextlib
import re
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import cached_property
from typing import Any
from urllib.parse import urlparse

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from modelreg.blobs import check_chunk, s3_presign
from modelreg.blobs.presign import PresignedRequest
from modelreg.blobs.s3_signer import Head, HeadFailed, ObjectSigner
from modelreg.digest import Digest, digest_hex, parse_digest
from modelreg.errors import ChunkNotFound, InvalidInput, StorageUnavailable

__all__ = ["S3ChunkStore", "make_client", "parse_s3_url"]

# S3's naming rules as they were before 2018 (new buckets are stricter: lower case, 3–63 characters), so
# that legacy buckets still work; enough to refuse a host with a port, credentials or a typo'd scheme.
_BUCKET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,253}[A-Za-z0-9]")
_KEY = re.compile(r"([0-9a-f]{2})/([0-9a-f]{64})")  # under <prefix>/sha256/
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
_DENIED = {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"}
_CONFLICT_ATTEMPTS = 5  # a racing conditional write lasts one PUT; its 409 clears within milliseconds
_HEAD_THREADS = 16  # parallel HEADs per missing() call: enough to hide a LAN or same-region round trip


def parse_s3_url(url: str) -> tuple[str, str]:
    """(bucket, prefix) of ``s3://bucket/prefix``. Raises ``InvalidInput`` for anything else.

    Example messages::

        invalid storage URL 's3://Bad_Bucket/x': 'Bad_Bucket' is not a valid S3 bucket name
        invalid storage URL 's3://key:secret@bucket': credentials come from the AWS chain, never the URL
    """
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise InvalidInput(f"invalid storage URL {url!r}: expected s3://bucket/prefix")
    if "@" in parsed.netloc:
        raise InvalidInput(
            f"invalid storage URL {url!r}: credentials come from the AWS chain "
            "(environment, ~/.aws, instance role), never the URL"
        )
    if not _BUCKET.fullmatch(parsed.netloc):
        raise InvalidInput(f"invalid storage URL {url!r}: {parsed.netloc!r} is not a valid S3 bucket name")
    if parsed.query or parsed.fragment or parsed.params:
        raise InvalidInput(f"invalid storage URL {url!r}: s3:// URLs take no query or fragment")
    prefix = parsed.path.strip("/")
    if prefix and any(part in ("", ".", "..") for part in prefix.split("/")):
        raise InvalidInput(
            f"invalid storage URL {url!r}: empty, '.' and '..' prefix segments are not allowed"
        )
    return parsed.netloc, prefix


def make_client(
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    pool_size: int = 64,
    max_attempts: int = 5,
    session: boto3.session.Session | None = None,
) -> Any:
    """A thread-safe S3 client; credentials from ``session`` or, by default, the standard AWS chain.

    ``pool_size`` bounds the kept-alive connections: the server's worker threads and ``missing``'s HEADs
    share them, and urllib3 drops (and later reopens) any connection beyond it.
    """
    config = Config(
        max_pool_connections=pool_size,
        retries={"mode": "standard", "max_attempts": max_attempts},  # backoff with jitter; 5xx and throttling
        connect_timeout=10,
        read_timeout=60,
        # We send ChecksumSHA256 ourselves and re-hash every read: botocore's default CRC32 on both
        # directions would hash each body once more for nothing.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        # SigV4 for presigned URLs too (botocore presigns S3 with SigV2 by default in some regions): only
        # SigV4 signs the x-amz-checksum-sha256 and If-None-Match headers a direct upload must send.
        signature_version="s3v4",
        # S3-compatible servers on a custom endpoint (MinIO, moto, an IP address) want bucket-in-path URLs.
        s3={"addressing_style": "path"} if endpoint_url else None,
    )
    session = session or boto3.session.Session()
    return session.client("s3", endpoint_url=endpoint_url, region_name=region, config=config)


class S3ChunkStore:
    """``s3://bucket/prefix``: atomic, idempotent, verified; safe across threads, processes and machines."""

    def __init__(
        self, bucket: str, prefix: str = "", *, client: Any, head_threads: int = _HEAD_THREADS
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self._base = f"{self.prefix}/sha256/" if self.prefix else "sha256/"
        self._client = client
        self._head_threads = head_threads
        self._bucket_seen = False  # set once the bucket answered: a HEAD's 404 then means "no such chunk"
        self._writing: dict[Digest, list[Any]] = {}  # digest → [lock, users]: one PUT per digest at a time
        self._writing_guard = threading.Lock()
        self._enforced: bool | None = None  # enforces_checksums(), once probed

    def put(self, digest: Digest, data: bytes | memoryview, *, verified: bool = False) -> bool:
        digest = parse_digest(digest)
        if not verified:  # S3 still checks the sha256 it is sent (below), whoever hashed the bytes
            check_chunk(digest, data, stored=False)
        self._check_bucket()
        body = data if isinstance(data, bytes) else bytes(data)  # botocore sends bytes or files only
        checksum = base64.b64encode(bytes.fromhex(digest_hex(digest))).decode("ascii")
        with self._one_writer(digest), self._translate("write", digest):
            return self._create(self._key(digest), body, checksum)

    def get(self, digest: Digest, *, verify: bool = True) -> bytes:
        digest = parse_digest(digest)
        self._check_bucket()
        with self._translate("read", digest):
            response = self._client.get_object(Bucket=self.bucket, Key=self._key(digest))
            with contextlib.closing(response["Body"]) as body:
                payload: bytes = body.read()
        if verify:
            check_chunk(digest, payload, stored=True)
        return payload

    def exists(self, digest: Digest) -> bool:
        digest = parse_digest(digest)
        self._check_bucket()
        return self._head(digest) is not None

    def missing(self, digests: Iterable[Digest]) -> set[Digest]:
        wanted = sorted({parse_digest(digest) for digest in digests})
        if not wanted:
            return set()
        self._check_bucket()
        with ThreadPoolExecutor(min(self._head_threads, len(wanted)), thread_name_prefix="s3-head") as pool:
            heads = list(pool.map(self._signed_head, wanted))
        return {digest for digest, head in zip(wanted, heads, strict=True) if head is None}

    def size(self, digest: Digest) -> int:
        size: int = self._stat(digest)["ContentLength"]
        return size

    def modified(self, digest: Digest) -> float:
        # S3's Last-Modified: when the object was created (create-only puts never rewrite it), by the
        # server's clock, to the second; the collector's grace period is far longer than either error.
        stamp: datetime = self._stat(digest)["LastModified"]
        return stamp.timestamp()

    def delete(self, digest: Digest) -> bool:
        # S3's DELETE answers 204 whether or not the key existed, hence the HEAD. Only garbage collection
        # deletes, so a racing put between the two is the collector's grace period's business.
        digest = parse_digest(digest)
        self._check_bucket()
        if self._head(digest) is None:
            return False
        with self._translate("delete", digest):
            self._client.delete_object(Bucket=self.bucket, Key=self._key(digest))
        return True

    def iter(self) -> Iterator[Digest]:
        self._check_bucket()
        # ListObjectsV2 pages by continuation token (1,000 keys a page), so deleting behind it is safe.
        pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self._base)
        with self._translate("list", None):
            for page in pages:
                for entry in page.get("Contents", ()):
                    match = _KEY.fullmatch(entry["Key"][len(self._base) :])
                    if match and match[2].startswith(match[1]):  # anything else is not ours
                        yield Digest("sha256:" + match[2])

    # Direct transfers (``blobs.presign.PresigningStore``; the work is in ``blobs/s3_presign.py``) ----------
    def enforces_checksums(self) -> bool:
        if self._enforced is None:
            self._check_bucket()
            self._enforced = s3_presign.probe_checksums(self)
        return self._enforced

    def presign_put(self, digest: Digest, *, expires_in: int) -> PresignedRequest:
        return s3_presign.presign(self, "PUT", parse_digest(digest), expires_in=expires_in)

    def presign_get(self, digest: Digest, *, expires_in: int) -> PresignedRequest:
        return s3_presign.presign(self, "GET", parse_digest(digest), expires_in=expires_in)

    def verify_uploads(self, sizes: Mapping[Digest, int]) -> None:
        wanted = {parse_digest(digest): size for digest, size in sizes.items()}
        enforced = self.enforces_checksums()
        s3_presign.verify_uploads(self, wanted, enforced=enforced, threads=self._head_threads)

    @cached_property
    def _signer(self) -> ObjectSigner:
        """Presigned requests on the chunks' objects: direct transfers' hot path (``blobs/s3_signer.py``)."""
        with self._translate("sign", None):
            try:
                return ObjectSigner(self._client, self.bucket, self._base)
            except ValueError as exc:  # an endpoint whose object URLs do not end with the key
                raise self._unavailable("sign", None, "UnsupportedEndpoint", exc) from exc

    def _key(self, digest: Digest) -> str:
        return self._base + self._name(digest)

    @staticmethod
    def _name(digest: Digest) -> str:
        """The object's key under ``<prefix>/sha256/``."""
        hex_ = digest_hex(digest)
        return f"{hex_[:2]}/{hex_}"

    @contextlib.contextmanager
    def _one_writer(self, digest: Digest) -> Iterator[None]:
        """Hold back this process's other writers of ``digest`` until this one's PUT has answered.

        Across processes S3's conditional write alone decides; within one this keeps "exactly one writer
        reports True" even on servers that check If-None-Match without a lock (moto: measured here, 1 round
        in 200 of 8 racing threads had two winners).
        """
        with self._writing_guard:
            entry = self._writing.setdefault(digest, [threading.Lock(), 0])
            entry[1] += 1
        try:
            with entry[0]:
                yield
        finally:
            with self._writing_guard:
                entry[1] -= 1
                if not entry[1]:
                    del self._writing[digest]

    def _create(self, key: str, body: bytes, checksum: str) -> bool:
        """True when this call created the object, False when it was there already."""
        attempt = 0
        while True:
            try:
                self._client.put_object(
                    Bucket=self.bucket, Key=key, Body=body, ChecksumSHA256=checksum, IfNoneMatch="*"
                )
            except ClientError as exc:
                if _code(exc) == "PreconditionFailed":
                    return False  # the chunk is there: same name, same bytes
                attempt += 1
                if _code(exc) != "ConditionalRequestConflict" or attempt == _CONFLICT_ATTEMPTS:
                    raise
            else:
                return True
            time.sleep(0.02 * 2**attempt)

    def _stat(self, digest: Digest) -> dict[str, Any]:
        digest = parse_digest(digest)
        self._check_bucket()
        head = self._head(digest)
        if head is None:
            raise ChunkNotFound(f"chunk {digest} not found", details={"digest": digest})
        return head

    def _head(self, digest: Digest) -> dict[str, Any] | None:
        """The object's HEAD response, or None when the chunk is absent."""
        with self._translate("check", digest):
            try:
                response = self._client.head_object(Bucket=self.bucket, Key=self._key(digest))
            except ClientError as exc:
                if _code(exc) in _NOT_FOUND:
                    return None
                raise
        head: dict[str, Any] = response
        return head

    def _signed_head(self, digest: Digest) -> Head | None:
        """``_head`` for the hot paths (every push's missing-chunk query, a direct commit's checks): the same
        request, signed and sent by ``_signer`` at under half the CPU; only size and checksum come back."""
        try:
            return self._signer.head(self._name(digest))
        except HeadFailed as failure:
            raise self._unavailable("check", digest, failure.code, failure) from None

    def _check_bucket(self) -> None:
        """Ask once whether the bucket is there: a HEAD on a key in a missing bucket is a bare 404 too."""
        if self._bucket_seen:
            return
        with self._translate("reach", None):
            self._client.head_bucket(Bucket=self.bucket)
        self._bucket_seen = True

    @contextlib.contextmanager
    def _translate(self, action: str, digest: Digest | None) -> Iterator[None]:
        """botocore's errors as ours: an absent key is ChunkNotFound, anything else StorageUnavailable.

        A 404 about no chunk in particular (HeadBucket's is bare, without a code) means the bucket.
        """
        try:
            yield
        except ClientError as exc:
            code = _code(exc)
            if code in _NOT_FOUND and digest is not None:
                raise ChunkNotFound(f"chunk {digest} not found", details={"digest": digest}) from exc
            if code in _NOT_FOUND:
                code = "NoSuchBucket"
            raise self._unavailable(action, digest, code, exc) from exc
        except BotoCoreError as exc:  # no connection, timeouts, truncated bodies, no credentials
            raise self._unavailable(action, digest, type(exc).__name__, exc) from exc

    def _unavailable(
        self, action: str, digest: Digest | None, code: str, exc: Exception
    ) -> StorageUnavailable:
        where = f"{self.url} at {self._client.meta.endpoint_url}"
        if code == "NoSuchBucket":
            reason = f"bucket {self.bucket!r} does not exist"
        elif code in _DENIED:
            reason = (
                f"access to bucket {self.bucket!r} was denied ({code}): check the AWS credentials and that "
                "they may list the bucket and read, write and delete under the prefix"
            )
        else:
            subject = f"chunk {digest}" if digest else "chunks"
            reason = f"cannot {action} {subject}: {exc}"
        return StorageUnavailable(
            f"chunk store unavailable: {reason} ({where})",
            details={"url": self.url, "bucket": self.bucket, "code": code},
        )


def _code(exc: ClientError) -> str:
    code: str = exc.response.get("Error", {}).get("Code", "")
    return code
