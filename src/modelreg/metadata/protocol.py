"""The metadata seam: what the registry asks of a database, as a unit of work.

One implementation (``SqlMetadataStore``) serves SQLite and PostgreSQL; the conformance and behavioural
suites run against both. A session is one transaction: everything written through it, audit event included,
commits together or not at all (DESIGN invariants 1 and 4).

Integer ids (``model_id``, ``version_id``) are opaque handles valid inside the store that issued them.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from modelreg.types import AliasChange, Dataset, Model, ModelVersion, StageChange, Token

if TYPE_CHECKING:
    from modelreg.registry.filters import Expr, OrderKey

__all__ = ["AuditRecord", "MetadataSession", "MetadataStore", "NewFile", "NewVersion", "VersionKey"]


@dataclass(frozen=True, slots=True)
class VersionKey:
    """Handles for a version found by a lookup."""

    model_id: int
    version_id: int
    number: int
    deleted: bool


@dataclass(frozen=True, slots=True)
class NewFile:
    """A file's content record: whole-file digest → canonical JSON chunk list."""

    digest: str
    size: int
    chunks_json: str


@dataclass(frozen=True, slots=True)
class NewVersion:
    number: int
    digest: str
    manifest_json: str
    size_bytes: int
    files: Sequence[tuple[str, str, int]]  # (path, file digest, size)
    contents: Sequence[NewFile]  # file contents to record if not yet known
    description: str
    run_id: str | None
    lineage_json: str
    signature_json: str | None
    metrics: dict[str, float]
    params: dict[str, str]
    tags: dict[str, str]
    datasets: Sequence[Dataset]
    parent_ids: Sequence[int]
    created_at: datetime
    created_by: str


@dataclass(frozen=True, slots=True)
class AuditRecord:
    seq: int
    at: datetime
    actor: str
    action: str
    model: str | None
    target: str
    data_json: str
    prev_hash: str
    hash: str


class MetadataSession(Protocol):
    """One transaction. Methods raise only modelreg errors (``StorageUnavailable`` for database trouble)."""

    # Reads ----------------------------------------------------------------------------------------------
    def model(self, name: str) -> Model | None: ...
    def model_id(self, name: str, *, lock: bool = False) -> int | None:
        """The model's id; ``lock`` takes its row write lock (serialises writers of one model)."""
        ...

    def version_key(self, name: str, number: int) -> VersionKey | None: ...
    def latest_key(self, name: str) -> VersionKey | None:
        """The highest live (not deleted) version."""
        ...

    def alias_key(self, name: str, alias: str) -> VersionKey | None: ...
    def digest_key(self, name: str, digest: str) -> VersionKey | None:
        """The highest live version whose manifest has this digest."""
        ...

    def version(self, version_id: int) -> ModelVersion: ...
    def versions(self, version_ids: Sequence[int]) -> list[ModelVersion]:
        """Full versions in the given order (batched: a constant number of queries)."""
        ...

    def manifest_json(self, version_id: int) -> str: ...
    def version_has_chunk(self, version_id: int, digest: str) -> bool:
        """Whether any file of the version is made of this chunk (indexed; no manifest parsing)."""
        ...

    def list_models(self, *, limit: int, offset: int) -> list[Model]: ...
    def list_versions(
        self, model_id: int, *, include_deleted: bool, limit: int, offset: int
    ) -> list[int]: ...
    def search_versions(
        self, expr: Expr | None, order: list[OrderKey], *, include_deleted: bool, limit: int, offset: int
    ) -> list[int]: ...
    def search_models(
        self, expr: Expr | None, order: list[OrderKey], *, limit: int, offset: int
    ) -> list[Model]: ...
    def alias_history(self, model_id: int, alias: str) -> list[AliasChange]: ...
    def alias_at(self, model_id: int, alias: str, at: datetime) -> int | None:
        """The version id the alias pointed to at ``at``, from the history intervals."""
        ...

    def alias_since(self, model_id: int, alias: str) -> datetime | None:
        """When the alias's current target was set (None when unset)."""
        ...

    def stage_since(self, version_id: int) -> datetime | None: ...
    def stage_history(self, version_id: int) -> list[StageChange]: ...
    def known_files(self, digests: Sequence[str]) -> dict[str, str]:
        """Whole-file digest → chunk list JSON, for the files already recorded."""
        ...

    def idempotent_result(self, key: str) -> tuple[str, int] | None:
        """(request digest, version id) remembered for an ``Idempotency-Key``."""
        ...

    # Writes ---------------------------------------------------------------------------------------------
    def ensure_model(self, name: str, *, at: datetime, actor: str) -> tuple[int, bool]:
        """Create the model if absent (race-safe); lock its row; return (id, created)."""
        ...

    def create_model(
        self, name: str, *, description: str, tags: dict[str, str], at: datetime, actor: str
    ) -> int:
        """Raises ``ModelAlreadyExists``."""
        ...

    def allocate_version(self, model_id: int) -> int:
        """Increment and return the model's version counter (caller holds the model lock)."""
        ...

    def insert_version(self, model_id: int, new: NewVersion) -> int: ...
    def set_alias(
        self, model_id: int, alias: str, version_id: int, *, at: datetime, actor: str
    ) -> int | None:
        """Point the alias at a version; returns the previous version id (None if new)."""
        ...

    def delete_alias(self, model_id: int, alias: str, *, at: datetime, actor: str) -> int | None: ...
    def aliases_of(self, version_id: int) -> list[str]: ...
    def set_model_tag(self, model_id: int, key: str, value: str, *, at: datetime) -> str | None: ...
    def delete_model_tag(self, model_id: int, key: str, *, at: datetime) -> str | None: ...
    def set_version_tag(self, version_id: int, key: str, value: str, *, at: datetime) -> str | None: ...
    def delete_version_tag(self, version_id: int, key: str, *, at: datetime) -> str | None: ...
    def set_model_description(self, model_id: int, text: str, *, at: datetime) -> str: ...
    def set_version_description(self, version_id: int, text: str, *, at: datetime) -> str: ...
    def set_stage(self, version_id: int, stage: str, *, at: datetime, actor: str) -> str:
        """Returns the previous stage; records the stage history interval."""
        ...

    def mark_deleted(self, version_id: int, *, at: datetime, actor: str) -> None: ...
    def remember_idempotency(
        self, key: str, request_digest: str, version_id: int, *, at: datetime
    ) -> None: ...
    def audit_head(self) -> tuple[int, str, datetime | None]:
        """(last sequence number, last hash, last event time), holding the chain's write lock until the
        session ends."""
        ...

    def append_audit(self, record: AuditRecord) -> None: ...
    def audit_events(self, *, after: int = 0, limit: int = 1000) -> list[AuditRecord]: ...

    def audit_seq(self) -> int:
        """The last event's sequence number, without taking the chain's lock."""
        ...

    def audit_actions_after(self, seq: int, actions: Collection[str]) -> bool:
        """Whether an event with one of these actions was appended after event ``seq``."""
        ...

    # Garbage collection (registry/collection.py) -----------------------------------------------------------
    def lock_collection(self) -> None:
        """Take the lock that orders collection against commits and chunk leases until the session ends: the
        audit chain's lock, which every commit takes too. Call it first in the write session."""
        ...

    def referenced_chunks(self, digests: Collection[str] | None = None) -> set[str]:
        """Of these chunk digests (every one when None), those that a file of a version is made of."""
        ...

    def referenced_files(self, digests: Collection[str]) -> set[str]:
        """Of these whole-file digests, those that a version lists."""
        ...

    def leased_chunks(self, now: datetime, digests: Collection[str] | None = None) -> set[str]:
        """Of these chunk digests (every one when None), those leased beyond ``now``."""
        ...

    def lease_chunks(self, digests: Collection[str], *, until: datetime) -> None:
        """Lease these chunks until ``until`` (a lease is only ever extended)."""
        ...

    def expire_leases(self, now: datetime) -> int:
        """Delete the leases expired at ``now``; returns how many."""
        ...

    def chunks_under_sweep(self, digests: Collection[str] | None = None) -> set[str]:
        """Of these chunk digests (every one when None), those a collection is deleting."""
        ...

    def start_sweep(self, digests: Collection[str], *, at: datetime) -> None: ...
    def end_sweep(self) -> int:
        """Delete every sweep row (the collection's own, or a crashed one's); returns how many. Only in a
        transaction that also appends a registry:gc:* audit event: a commit that checked the store before
        a sweep ended learns from that event that its check may be stale."""
        ...

    # Tokens ---------------------------------------------------------------------------------------------
    def insert_token(
        self, *, name: str, role: str, secret_hash: str, at: datetime, actor: str, expires_at: datetime | None
    ) -> Token: ...
    def token_by_hash(self, secret_hash: str) -> Token | None: ...
    def list_tokens(self) -> list[Token]: ...
    def revoke_tokens(self, name: str, *, at: datetime, actor: str) -> int:
        """Revoke every active token of that name; returns how many."""
        ...


class MetadataStore(Protocol):
    url: str

    def session(self, *, write: bool = False) -> AbstractContextManager[MetadataSession]:
        """A transaction; ``write`` sessions serialise with other writers and commit on clean exit."""
        ...

    def exclusive(self, name: str) -> AbstractContextManager[None]:
        """Hold the lock called ``name`` across every process using this database (waiting for a holder).
        It dies with its holder, so a crash never leaves it taken. Garbage collection runs under "gc"."""
        ...

    def close(self) -> None: ...
