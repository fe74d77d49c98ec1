"""Garbage collection of the chunk store: mark-and-sweep from versions and artifacts, safe while pushes run.

    list the store ─► mark (read only): referenced ∪ leased; the rest, written ≥ grace ago, are "old"
    ── dry run stops here and reports the old ones as reclaimable ──
    ─► under the "gc" lock (one collection at a time), for each batch of 5,000 old chunks:
       ─► one write transaction behind the audit chain's lock: clear a crashed sweep's rows, drop expired
          leases, mark the batch again: candidates = batch − marked; a sweep row each; audit registry:gc:start
       ─► delete each candidate from the store (outside any transaction)
       ─► one write transaction, behind the same lock: drop the sweep rows; audit registry:gc:finish

The three promises, and what keeps each (docs/architecture.md, "Garbage collection", has the long form):

- A chunk a committed version or a stored artifact references is never deleted: candidates exclude the
  chunks referenced at the moment of the locked decision (``referenced_chunks``: versions' files and
  artifacts' files alike), and a commit that comes later fails if it references a candidate
  (``check_commit``, run inside the commit's transaction after it took the same lock; an artifact's
  ``put_artifact`` runs it too).
- A chunk a client was told is present stays for the grace period: ``unpromised`` leases it, behind the
  same lock, before the answer leaves; chunks under sweep, or gone by then, are answered "missing".
- A chunk written less than the grace period ago is never deleted: that covers uploads in flight without a
  database write per upload.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from modelreg.digest import Digest
from modelreg.errors import ChunkBeingCollected, ChunkNotFound
from modelreg.metadata.protocol import MetadataSession
from modelreg.registry import audit
from modelreg.types import GcReport

if TYPE_CHECKING:
    from modelreg.registry.service import Registry

__all__ = ["GC_ACTIONS", "check_commit", "collect", "lease_uploads", "unknown", "unpromised"]

GC_ACTIONS = ("registry:gc:start", "registry:gc:finish")
_WORKERS = 8  # chunk store calls in flight: on S3 each is a round trip
# Chunks decided per locked transaction. Commits wait while one runs (~30 µs a chunk measured here), so a
# million orphans are swept in 200 short stalls rather than one long one.
_SWEEP_BATCH = 5_000


@dataclass(frozen=True, slots=True)
class _Mark:
    """The read-only half: what the store holds and which of it is garbage by the rules, as of now."""

    stored: frozenset[str]
    referenced: frozenset[str]  # by any version, stored or not
    lost: frozenset[str]  # referenced, yet not stored: data lost (or damaged by hand)
    old: dict[str, int]  # unreferenced, unleased, written at least the grace period ago → size
    seconds: float


def collect(registry: Registry, *, apply: bool) -> GcReport:
    """Mark, then (``apply``) sweep. A dry run writes nothing: no rows, no audit event."""
    if not apply:
        mark = _mark(registry)
        return _report(registry, mark, applied=False, reclaimable=mark.old, deleted={}, sweep_seconds=0.0)
    with registry.metadata.exclusive("gc"):
        mark = _mark(registry)
        reclaimable: dict[str, int] = {}
        deleted: dict[str, int] = {}
        deciding = sweeping = 0.0
        for batch in _batches(mark.old):
            started = time.perf_counter()
            candidates = _start_sweep(registry, batch)
            deciding += time.perf_counter() - started
            started = time.perf_counter()
            if candidates:
                removed, failure = _delete(registry, candidates)
                _finish_sweep(registry, removed, failure)
                deleted.update(removed)
                if failure is not None:
                    raise failure
            sweeping += time.perf_counter() - started
            reclaimable.update(candidates)
        mark = dataclasses.replace(mark, seconds=mark.seconds + deciding)
        return _report(
            registry, mark, applied=True, reclaimable=reclaimable, deleted=deleted, sweep_seconds=sweeping
        )


def _batches(old: dict[str, int]) -> list[dict[str, int]]:
    """The old chunks in sweeps of at most ``_SWEEP_BATCH`` (at least one sweep: it clears a crashed
    collection's rows)."""
    items = list(old.items())
    return [dict(items[start : start + _SWEEP_BATCH]) for start in range(0, len(items), _SWEEP_BATCH)] or [{}]


def unpromised(registry: Registry, present: Sequence[str]) -> set[str]:
    """Of chunks just found in the store, those the registry must not tell a client are present.

    Referenced chunks are safe. Each other one is leased for the grace period, behind the collection lock,
    unless a sweep holds it; then its presence is checked again, since a sweep that ended between the
    first look and the lease may have deleted it. Answered missing, such a chunk is simply uploaded again.
    Normal pushes write nothing here: their chunks are either missing or referenced.
    """
    if not present:
        return set()
    with registry.metadata.session() as session:
        referenced = session.referenced_chunks(present)
    loose = [digest for digest in present if digest not in referenced]
    if not loose:
        return set()
    with registry.metadata.session(write=True) as session:
        session.lock_collection()
        busy = session.chunks_under_sweep(loose)
        leased = [digest for digest in loose if digest not in busy]
        session.lease_chunks(leased, until=registry._clock() + timedelta(seconds=registry.gc_grace_seconds))
    gone = registry.chunks.missing([Digest(digest) for digest in leased]) if leased else set()
    return busy | gone


def unknown(registry: Registry, digests: Sequence[str]) -> set[str]:
    """Of these chunks, those the registry has no record of: referenced by no version or artifact, and not
    leased (neither told present nor handed an upload URL within a grace period)."""
    with registry.metadata.session() as session:
        referenced = session.referenced_chunks(digests)
        rest = [digest for digest in digests if digest not in referenced]
        leased = session.leased_chunks(registry._clock(), rest) if rest else set()
    return {digest for digest in rest if digest not in leased}


def lease_uploads(registry: Registry, digests: Collection[str], *, seconds: float) -> None:
    """Lease chunks a client was just handed upload URLs for, so that asking again about them (a resumed
    push) asks the store. No collection lock: a lease on a chunk not yet stored promises nothing, and one
    that a sweep meanwhile deletes is uploaded again (the commit fails retryably first)."""
    if not digests:
        return
    until = registry._clock() + timedelta(seconds=seconds)
    with registry.metadata.session(write=True) as session:
        session.lease_chunks(digests, until=until)


def check_commit(
    registry: Registry, session: MetadataSession, chunks: Collection[str], *, since: int
) -> None:
    """Refuse a commit whose chunks a collection is deleting or may have deleted.

    Runs inside the commit's write transaction once ``audit.record`` holds the chain's lock, so no sweep can
    start or end meanwhile. ``since`` is the audit sequence number read before the commit checked that its
    chunks were stored: if a collection started or ended after it, that check may be stale, so the store is
    asked again (rare: only commits that overlap a sweep pay for it).
    """
    busy = session.chunks_under_sweep(chunks)
    if not busy and session.audit_actions_after(since, GC_ACTIONS):
        busy = set(registry.chunks.missing([Digest(digest) for digest in chunks]))
    if busy:
        raise ChunkBeingCollected(
            f"{len(busy)} chunk(s) of this version are being garbage collected: upload them again, "
            "then commit",
            details={"digests": sorted(busy)[:20]},
        )


def _mark(registry: Registry) -> _Mark:
    started = time.perf_counter()
    now = registry._clock()
    stored = frozenset(registry.chunks.iter())
    with registry.metadata.session() as session:
        referenced = frozenset(session.referenced_chunks())
        leased = session.leased_chunks(now)
    unmarked = stored - referenced - leased
    old = _written_before(registry, unmarked, now - timedelta(seconds=registry.gc_grace_seconds))
    # Versions committed after the listing reference chunks it could not see: ask about those again.
    unseen = [Digest(digest) for digest in referenced - stored]
    lost = frozenset(registry.chunks.missing(unseen)) if unseen else frozenset()
    return _Mark(stored, referenced, lost, old, time.perf_counter() - started)


def _written_before(registry: Registry, digests: Collection[str], cutoff: datetime) -> dict[str, int]:
    """Those of ``digests`` written at or before ``cutoff`` → their sizes (any gone meanwhile left out)."""
    limit = cutoff.timestamp()
    store = registry.chunks

    def age(digest: str) -> tuple[str, float, int] | None:
        try:
            return digest, store.modified(Digest(digest)), store.size(Digest(digest))
        except ChunkNotFound:
            return None

    with ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="modelreg-gc") as pool:
        found = [entry for entry in pool.map(age, digests) if entry is not None]
    return {digest: size for digest, written, size in found if written <= limit}


def _start_sweep(registry: Registry, old: dict[str, int]) -> dict[str, int]:
    """Decide, behind the lock every commit takes: the old chunks still unmarked now become the sweep."""
    with registry.metadata.session(write=True) as session:
        session.lock_collection()
        # Only a crashed collection leaves rows (this one holds the "gc" lock): nobody deletes for it any
        # more, so its rows are dropped and its chunks decided afresh with the others.
        cleared = session.end_sweep()
        at = registry._now()
        session.expire_leases(at)
        marked = session.referenced_chunks(old) | session.leased_chunks(at, old)
        candidates = {digest: size for digest, size in old.items() if digest not in marked}
        if not candidates and not cleared:
            return {}  # nothing to delete and nothing to record
        session.start_sweep(candidates, at=at)
        _audit(registry, session, at, "registry:gc:start", chunks=candidates, extra={"cleared": cleared})
    return candidates


def _delete(registry: Registry, candidates: dict[str, int]) -> tuple[dict[str, int], Exception | None]:
    """Delete every candidate; (those this call removed → size, the first failure). All calls have ended
    when this returns, so the sweep rows can go whatever happened."""
    store = registry.chunks
    with ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="modelreg-gc") as pool:
        futures = {digest: pool.submit(store.delete, Digest(digest)) for digest in candidates}
    deleted: dict[str, int] = {}
    failure: Exception | None = None
    for digest, future in futures.items():
        error = future.exception()
        if error is None and future.result():
            deleted[digest] = candidates[digest]
        elif isinstance(error, Exception) and failure is None:
            failure = error
    return deleted, failure


def _finish_sweep(registry: Registry, deleted: dict[str, int], failure: Exception | None) -> None:
    with registry.metadata.session(write=True) as session:
        session.lock_collection()
        session.end_sweep()
        at = registry._now()
        extra: dict[str, object] = {} if failure is None else {"error": str(failure)}
        _audit(registry, session, at, "registry:gc:finish", chunks=deleted, extra=extra)


def _audit(
    registry: Registry,
    session: MetadataSession,
    at: datetime,
    action: str,
    *,
    chunks: dict[str, int],
    extra: Mapping[str, object],
) -> None:
    data = {"chunks": len(chunks), "bytes": sum(chunks.values()), **extra}
    audit.record(
        session,
        at=at,
        actor=registry.actor.name,
        action=action,
        model=None,
        target=registry.chunks.url,
        data=data,
    )


def _report(
    registry: Registry,
    mark: _Mark,
    *,
    applied: bool,
    reclaimable: dict[str, int],
    deleted: dict[str, int],
    sweep_seconds: float,
) -> GcReport:
    unreferenced = len(mark.stored - mark.referenced)
    return GcReport(
        applied=applied,
        grace_seconds=registry.gc_grace_seconds,
        scanned_chunks=len(mark.stored),
        referenced_chunks=len(mark.stored) - unreferenced,
        protected_chunks=unreferenced - len(reclaimable),
        reclaimable_chunks=len(reclaimable),
        reclaimable_bytes=sum(reclaimable.values()),
        deleted_chunks=len(deleted),
        deleted_bytes=sum(deleted.values()),
        missing_chunks=len(mark.lost),
        mark_seconds=mark.seconds,
        sweep_seconds=sweep_seconds,
    )
