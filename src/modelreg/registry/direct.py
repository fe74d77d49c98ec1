"""Direct transfers: which presigned requests a caller gets, and what the commit then checks.

With ``serve --direct-transfers`` over a store that can presign (``blobs.presign.PresigningStore``: S3), chunk
bytes go straight between the client and the object store; the server answers metadata only:

    push: missing chunks ─► a create-only PUT per missing chunk, bound to its sha256 (VERSION_CREATE);
          the store is asked only about chunks the registry has a record of (``upload_plan``)
    pull: chunks of a version the caller may pull ─► a GET each (VERSION_PULL, through the version as
          ``read_chunk``: never by digest alone)
    commit: every new chunk stored, of its size, holding its digest's bytes (``verify_uploads``: the store's
          own checksum where it enforces one, else read back)

Rules are the same as for proxied transfers: the same permissions, the same garbage-collection promises
(a chunk answered "present" is leased by ``missing_chunks``; a chunk answered "missing" is uploaded, and
young objects are kept for the grace period), the same commit checks. Presigning is local signing (no
request to the store, ~0.13 ms a URL: ``blobs/s3_signer.py``), so what a direct push costs the server is
its metadata and the commit's one HEAD per new chunk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from modelreg.access import Permission
from modelreg.blobs.presign import MAX_PRESIGN_SECONDS, MIN_PRESIGN_SECONDS, PresignedRequest, PresigningStore
from modelreg.digest import Digest, parse_digest
from modelreg.errors import ChunkNotFound, InvalidInput
from modelreg.registry import collection

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
    """The missing chunks and, with direct transfers, a presigned PUT for each; without, no requests (the
    client uploads through the API, and the answer is ``missing_chunks``').

    With direct transfers the store is asked only about chunks the registry has a record of (``unknown``
    in ``registry/collection.py``): on S3 each question is a request, and on a new model's push every chunk
    is new. The others are missing unasked; if one is stored after all (written behind the registry's back,
    or uploaded so long ago that its lease lapsed), the client's create-only PUT meets it (412) and only that
    upload's bytes were wasted. The chunks handed URLs are leased, so that a push interrupted and run again
    asks the store about them and sends only what is still missing."""
    direct = registry.direct
    if direct is None:
        return registry.missing_chunks(digests), {}
    registry.actor.require_somewhere(Permission.VERSION_CREATE)
    wanted: list[str] = [parse_digest(d) for d in dict.fromkeys(digests)]
    unknown = collection.unknown(registry, wanted)
    asked = set(registry.missing_chunks([d for d in wanted if d not in unknown]))
    missing = [d for d in wanted if d in unknown or d in asked]
    collection.lease_uploads(registry, missing, seconds=direct.expires_in + registry.gc_grace_seconds)
    return missing, {d: direct.store.presign_put(Digest(d), expires_in=direct.expires_in) for d in missing}


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
