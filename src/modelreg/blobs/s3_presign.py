"""Direct transfers for the S3 chunk store: presigned PUTs and GETs, the checksum probe, upload checks.

A presigned PUT signs two headers the client must send as they are:

- ``x-amz-checksum-sha256`` (base64 of the chunk's digest): S3 hashes the body and refuses one that does not
  match (400 ``BadDigest``), so no other bytes can be stored under the chunk's name;
- ``If-None-Match: *``: create-only, as the server's own ``put``; a chunk already there answers 412.

``Content-Length`` is not signed: the registry is asked which chunks are missing by digest alone, and where
the checksum is enforced it already fixes the body (and so its length). Where it is not, the commit reads
every new chunk back (below), which catches a wrong body of any length.

Whether the store enforces the checksum is measured, not assumed (``probe_checksums``): one presigned PUT of
a wrong body under ``<prefix>/probes/``, outside the ``sha256/`` layout that ``iter`` and garbage collection
read. S3 refuses it; moto 5 (the test and benchmark server) stores it, and also stores the *claimed* sha256
as the object's checksum, which is why a HEAD's checksum is trusted only after the probe was refused.
"""

from __future__ import annotations

import base64
import contextlib
import secrets
import urllib.error
import urllib.request
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from modelreg.blobs.presign import PresignedRequest
from modelreg.digest import Digest, digest_hex, sha256_bytes
from modelreg.errors import ChunkNotFound, DigestMismatch, InvalidInput, StorageUnavailable

if TYPE_CHECKING:
    from modelreg.blobs.s3 import S3ChunkStore

__all__ = ["checksum_of", "presign", "probe_checksums", "verify_uploads"]

# What S3 and S3-protocol servers answer for a body that does not match its x-amz-checksum-* header.
_CHECKSUM_REFUSALS = {
    "BadDigest",
    "InvalidDigest",
    "XAmzContentChecksumMismatch",
    "XAmzContentSHA256Mismatch",
}
_PROBE_TIMEOUT = 30.0  # seconds for the probe's one PUT


def checksum_of(digest: Digest) -> str:
    """S3's form of a sha256: base64 of the raw 32 bytes."""
    return base64.b64encode(bytes.fromhex(digest_hex(digest))).decode("ascii")


def presign(store: S3ChunkStore, method: str, digest: Digest, *, expires_in: int) -> PresignedRequest:
    """A presigned PUT (create-only, checksum-bound) or GET of one chunk's object."""
    headers = {"x-amz-checksum-sha256": checksum_of(digest), "If-None-Match": "*"} if method == "PUT" else {}
    with store._translate("presign", digest):  # local signing: only a credentials problem can fail
        url = store._signer.presign(method, store._name(digest), headers, expires_in=expires_in)
    return PresignedRequest(method, url, headers, expires_in)


def probe_checksums(store: S3ChunkStore) -> bool:
    """PUT a body that does not match its signed sha256 through a presigned URL: True if it was refused."""
    key = f"{store.prefix}/probes/checksum-{secrets.token_hex(8)}" if store.prefix else None
    key = key or f"probes/checksum-{secrets.token_hex(8)}"
    claimed = checksum_of(sha256_bytes(b"modelreg checksum probe: the claimed body"))
    params = {"Bucket": store.bucket, "Key": key, "ChecksumSHA256": claimed}
    with store._translate("probe", None):
        url = store._client.generate_presigned_url("put_object", Params=params, ExpiresIn=60)
    request = urllib.request.Request(  # noqa: S310 (the URL is the store's own endpoint, signed just now)
        url, data=b"another body", method="PUT", headers={"x-amz-checksum-sha256": claimed}
    )
    try:
        with urllib.request.urlopen(request, timeout=_PROBE_TIMEOUT):  # noqa: S310 (as above)
            pass
    except urllib.error.HTTPError as error:
        body = error.read().decode("utf-8", "replace")
        if error.code == 400 and any(f"<Code>{code}</Code>" in body for code in _CHECKSUM_REFUSALS):
            return True
        raise StorageUnavailable(
            f"chunk store unavailable: the checksum probe PUT to {store.url} answered HTTP {error.code}: "
            f"{body[:200]!r}",
            details={"url": store.url, "status": error.code},
        ) from None
    except OSError as error:
        raise StorageUnavailable(
            f"chunk store unavailable: cannot reach {store.url} for the checksum probe: {error}",
            details={"url": store.url},
        ) from None
    with store._translate("delete", None):  # the server kept the wrong body: not ours to leave behind
        store._client.delete_object(Bucket=store.bucket, Key=key)
    return False


def verify_uploads(store: S3ChunkStore, sizes: Mapping[Digest, int], *, enforced: bool, threads: int) -> None:
    """``PresigningStore.verify_uploads`` for S3: HEADs (checksum + size) when enforced, else reads back."""
    if not sizes:
        return
    check = _by_checksum if enforced else _by_reading
    store._check_bucket()
    wanted = sorted(sizes.items())
    with ThreadPoolExecutor(min(threads, len(wanted)), thread_name_prefix="s3-verify") as pool:
        for _ in pool.map(lambda item: check(store, *item), wanted):
            pass


def _by_checksum(store: S3ChunkStore, digest: Digest, size: int) -> None:
    """S3 computed the stored checksum itself (the probe proved it refuses a mismatch): no bytes read."""
    head = store._signed_head(digest)
    if head is None:
        raise ChunkNotFound(f"chunk {digest} not found", details={"digest": digest})
    if head.checksum_sha256 is None:  # written without a checksum (by another tool): only its bytes can tell
        _by_reading(store, digest, size)
        return
    if head.checksum_sha256 != checksum_of(digest):
        _discard(store, digest, f"its stored sha256 is {head.checksum_sha256!r}")
    _check_size(digest, head.size, size)


def _by_reading(store: S3ChunkStore, digest: Digest, size: int) -> None:
    with store._translate("read", digest):
        response = store._client.get_object(Bucket=store.bucket, Key=store._key(digest))
        data: bytes = response["Body"].read()
    actual = sha256_bytes(data)
    if actual != digest:
        _discard(store, digest, f"its bytes hash to {actual}")
    _check_size(digest, len(data), size)


def _check_size(digest: Digest, stored: int, size: int) -> None:
    if stored != size:
        raise InvalidInput(f"chunk {digest} is stored with another size than the manifest says ({size})")


def _discard(store: S3ChunkStore, digest: Digest, why: str) -> None:
    """Delete an object that does not hold its digest's bytes (a tampered or damaged direct upload), so the
    chunk reads as missing and a correct upload can take its place; then refuse."""
    with contextlib.suppress(ClientError, BotoCoreError):  # refused all the same; GC removes it later
        store._client.delete_object(Bucket=store.bucket, Key=store._key(digest))
    raise DigestMismatch(
        f"uploaded chunk {digest} does not match its content ({why}); it was removed: upload it again",
        details={"digest": digest},
    )
