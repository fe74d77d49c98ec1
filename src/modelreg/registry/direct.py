"""Direct transfers: which presigned requests a caller gets, and what the commit then checks.

With ``serve --direct-transfers`` over a store that can presign (``blobs.presign.PresigningStore``: S3), chunk
bytes go straight between the client and the object store; the server answers metadata only:

    push: missing chunks ─► a create-only PUT per missing chunk, bound to its sha256 (VERSION_CREATE)
    pull: chunks of a version the caller may pull ─► a GET each (VERSION_PULL, through the version as
          ``read_chunk``: never by digest alone)
    commit: every new chunk stored, of its size, holding its digest's bytes (``verify_uploads``: the store's
          own checksum where it enforces one, else read back)

Rules are the same as for proxied transfers: the same permissions, the same garbage-collection promises
(a chunk answered "present" is leased by ``missing_chunks``; a chunk answered "missing" is uploaded, and
young objects are kept for the grace period), the same commit checks. Presigning is local signing (no
request to the store), so handing out URLs costs the server microseconds per chunk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from modelreg.blobs.presign import MAX_PRESIGN_SECONDS, MIN_PRESIGN_SECONDS, PresignedRequest, PresigningStore
from modelreg.digest import Digest, parse_digest
from modelreg.errors import ChunkNotFound, InvalidInput

if TYPE_CHECKING:
    from modelreg.registry.service import Registry

__all__ = ["DirectTransfers", "download_requests", "upload_plan"]


@dataclass(frozen=True, slots=True)
class DirectTransfers:
    """The registry's direct-transfer configuration: the presigning store and the URLs' lifetime."""

    store: PresigningStore
    expires_in: int = 900

    def __post_init__(self) -> None:
        if not MIN_PRESIGN_SECONDS <= self.expires_in <= MAX_PRESIGN_SECONDS:
            raise InvalidInput(
                f"invalid presigned URL lifetime {self.expires_in!r}: expected {MIN_PRESIGN_SECONDS} to "
                f"{MAX_PRESIGN_SECONDS} seconds"
            )


def upload_plan(registry: Registry, digests: Sequence[str]) -> tuple[list[str], dict[str, PresignedRequest]]:
    """The missing chunks (as ``missing_chunks`` answers them) and, with direct transfers, a presigned PUT
    for each; without, no requests (the client uploads through the API)."""
    missing = registry.missing_chunks(digests)  # checks VERSION_CREATE and writes the leases
    direct = registry.direct
    if direct is None:
        return missing, {}
    return missing, {
        digest: direct.store.presign_put(Digest(digest), expires_in=direct.expires_in) for digest in missing
    }


def download_requests(registry: Registry, ref: str, digests: Sequence[str]) -> dict[str, PresignedRequest]:
    """A presigned GET for each of these chunks of the version ``ref``; none without direct transfers.

    Authorised as ``read_chunk``: through ``Registry.manifest`` (the caller may pull the version, which is
    neither deleted nor purged), and every digest must be one of its chunks (``ChunkNotFound`` otherwise,
    naming the first that is not)."""
    wanted = [parse_digest(d) for d in dict.fromkeys(digests)]
    version, manifest = registry.manifest(ref)
    held = {chunk.digest for record in manifest.files for chunk in record.chunks}
    foreign = next((digest for digest in wanted if digest not in held), None)
    if foreign is not None:
        raise ChunkNotFound(f"chunk {foreign} is not part of {version.ref}")
    direct = registry.direct
    if direct is None:
        return {}
    return {digest: direct.store.presign_get(digest, expires_in=direct.expires_in) for digest in wanted}
