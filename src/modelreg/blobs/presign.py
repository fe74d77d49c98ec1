"""The direct-transfer seam: chunk stores that can let a client move bytes without the API server.

    client ── POST /chunks/missing?upload_urls=true ──► API ──► Registry ──► PresigningStore.presign_put
    client ── PUT <presigned URL> (the chunk's bytes) ─────────────────────► object store (S3 checks sha256)
    client ── POST …/versions (commit) ──► API ──► Registry ──► PresigningStore.verify_uploads

An optional capability beside ``ChunkStore``: only stores whose objects a client can reach itself (S3 and
S3-protocol servers) implement it. A presigned request is a URL plus the headers that were signed into it;
the client must send those headers exactly, so it can neither change the chunk's expected sha256 nor skip
the create-only condition. How far the store itself enforces the checksum decides how the commit verifies
what clients uploaded (``enforces_checksums``): by the checksum the store computed (a HEAD, no bytes read),
or by reading every new chunk back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from modelreg.digest import Digest

__all__ = ["MAX_PRESIGN_SECONDS", "MIN_PRESIGN_SECONDS", "PresignedRequest", "PresigningStore"]

# SigV4 presigned URLs live at most 7 days; under a minute a slow client could not even start its request.
MIN_PRESIGN_SECONDS = 60
MAX_PRESIGN_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True, slots=True)
class PresignedRequest:
    """One request a client may make straight to the object store, until ``expires_in`` seconds from now.

    Relative, not a timestamp: the client's clock need not agree with the server's.
    """

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    expires_in: int = 0

    def to_dict(self) -> dict[str, object]:
        return {
            "method": self.method,
            "url": self.url,
            "headers": dict(self.headers),
            "expires_in": self.expires_in,
        }


@runtime_checkable
class PresigningStore(Protocol):
    """A chunk store whose objects clients may write and read directly, through presigned requests."""

    url: str

    def enforces_checksums(self) -> bool:
        """Whether the store refuses a presigned PUT whose body does not hash to the signed sha256.

        Found out by experiment, once per store (a real PUT of a wrong body under a scratch key), not
        assumed: S3 enforces it; moto, for one, stores whatever it is sent. Raises ``StorageUnavailable``.
        """
        ...

    def presign_put(self, digest: Digest, *, expires_in: int) -> PresignedRequest:
        """A create-only PUT of the chunk ``digest``, bound to its sha256 (a signed checksum header)."""
        ...

    def presign_get(self, digest: Digest, *, expires_in: int) -> PresignedRequest:
        """A GET of the chunk ``digest`` (the client verifies the bytes against ``digest``)."""
        ...

    def verify_uploads(self, sizes: Mapping[Digest, int]) -> None:
        """Check chunks that clients may have written directly: each stored, of the given size, and holding
        the bytes its digest names (by the store's own checksum when ``enforces_checksums()``, else by
        reading it back). A chunk found holding other bytes is deleted, so a correct upload can replace it.

        Raises ``ChunkNotFound``, ``DigestMismatch`` (other bytes than the digest names), ``InvalidInput``
        (the right bytes, but not the size given: the manifest is wrong) or ``StorageUnavailable``.
        """
        ...
