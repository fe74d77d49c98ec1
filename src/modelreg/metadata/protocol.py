"""The metadata seam: what the registry asks of a database, as a unit of work.

One implementation (``SqlMetadataStore``) serves SQLite and PostgreSQL; the conformance and behavioural
suites run against both. A session is one transaction: everything written through it, audit event included,
commits together or not at all (DESIGN invariants 1 and 4).

Integer ids (``model_id``, ``version_id``) are opaque handles valid inside the store that issued them.
"""

from __future__ import annotations

from collections.abc import Collection, Generator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal, Protocol

from modelreg.metadata.tracking_protocol import TrackingSession
from modelreg.types import (
    AliasChange,
    Approval,
    Dataset,
    Group,
    LegalHold,
    Model,
    ModelVersion,
    RetentionPolicy,
    RoleBinding,
    StageChange,
    Token,
    User,
)

if TYPE_CHECKING:
    from modelreg.registry.filters import Expr, OrderKey

__all__ = [
    "AuditRecord",
    "MetadataSession",
    "MetadataStore",
    "NewFile",
    "NewVersion",
    "PromotionRow",
    "StoredPolicy",
    "VersionKey",
    "VersionState",
]


@dataclass(frozen=True, slots=True)
class VersionKey:
    """Handles for a version found by a lookup."""

    model_id: int
    version_id: int
    number: int
    deleted: bool
    purged: bool = False


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
class VersionState:
    """What retention decides on, for one version of a model (``retention_states``)."""

    version_id: int
    number: int
    deleted_at: datetime | None  # when it was soft-deleted (None: live)
    stage: str
    stage_since: datetime | None  # when the version entered its current stage (None: never moved)
    size_bytes: int
    aliases: tuple[str, ...]
    held: bool


@dataclass(frozen=True, slots=True)
class DeploymentRow:
    """One deployment interval, as stored (the columns of ``metadata.deployments``, in order)."""

    id: int
    environment: str
    endpoint: str  # '' when none was given
    name: str
    version: int
    version_id: int
    digest: str
    started_at: datetime
    started_by: str
    ended_at: datetime | None
    ended_by: str | None


@dataclass(frozen=True, slots=True)
class PromotionRow:
    """One promotion request, as stored (``metadata.promotions`` selects these columns, in order)."""

    id: int
    model_id: int
    version_id: int
    name: str
    version: int
    target: str
    kind: str
    status: str  # as stored: a pending row past expires_at is reported as expired by the registry
    requested_by: str
    requested_at: datetime
    comment: str
    expires_at: datetime
    approvals_required: int
    closed_at: datetime | None
    closed_by: str | None
    closed_comment: str | None


@dataclass(frozen=True, slots=True)
class StoredPolicy:
    text: str
    updated_at: datetime
    updated_by: str


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Audit log filters; ``None`` matches anything. ``action`` ending in '*' matches a prefix.
    ``since`` is inclusive, ``until`` exclusive; events come in sequence order after ``after``."""

    after: int = 0
    limit: int = 1000
    actor: str | None = None
    model: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


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


class MetadataSession(TrackingSession, Protocol):
    """One transaction. Methods raise only modelreg errors (``StorageUnavailable`` for database trouble)."""

    # Reads ----------------------------------------------------------------------------------------------
    # Lookups by name never find a deleted model (``mark_model_deleted``): not ``model``, ``model_id``, the
    # ``*_key`` lookups, listings nor searches.
    def model(self, name: str) -> Model | None: ...
    def model_id(self, name: str, *, lock: bool = False) -> int | None:
        """The live model's id; ``lock`` takes its row write lock (serialises writers of one model)."""
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
    def latest_per_stage(self, names: Sequence[str], stages: Sequence[str]) -> list[int]:
        """Ids of the newest live version in each of ``stages`` of each live model in ``names`` (one
        query: MLflow's ``latest_versions`` for a page of models)."""
        ...

    def versions(self, version_ids: Sequence[int]) -> list[ModelVersion]:
        """Full versions in the given order (batched: a constant number of queries)."""
        ...

    def manifest_json(self, version_id: int) -> str: ...
    def version_chunk_sizes(self, version_id: int, digests: Sequence[str]) -> dict[str, int]:
        """Of these chunk digests, those some file of the version is made of → their sizes (indexed; no
        manifest parsing)."""
        ...

    def list_models(self, *, limit: int, offset: int) -> list[Model]: ...
    def list_versions(
        self, model_id: int, *, include_deleted: bool, limit: int, offset: int
    ) -> list[int]: ...
    def search_versions(
        self,
        expr: Expr | None,
        order: list[OrderKey],
        *,
        include_deleted: bool,
        limit: int,
        offset: int,
        visible: Sequence[str] | None = None,
    ) -> list[int]:
        """``visible``: only models whose name matches one of these patterns (None: every model)."""
        ...

    def search_models(
        self,
        expr: Expr | None,
        order: list[OrderKey],
        *,
        limit: int,
        offset: int,
        visible: Sequence[str] | None = None,
    ) -> list[Model]: ...
    def alias_history(self, model_id: int, alias: str) -> list[AliasChange]: ...
    def alias_since(self, model_id: int, alias: str) -> datetime | None:
        """When the alias's current target was set (None when unset)."""
        ...

    def stage_since(self, version_id: int) -> datetime | None: ...
    def stage_history(self, version_id: int) -> list[StageChange]: ...
    def known_files(self, digests: Sequence[str]) -> dict[str, str]:
        """Whole-file digest → chunk list JSON, for the files already recorded."""
        ...

    def idempotent_result(self, key: str, *, since: datetime) -> tuple[str, int] | None:
        """(request digest, version id) remembered for an ``Idempotency-Key`` at or after ``since``."""
        ...

    # Writes ---------------------------------------------------------------------------------------------
    def ensure_model(self, name: str, *, at: datetime, actor: str) -> tuple[int, bool]:
        """The live model's id with its row locked, reviving a deleted one (blank description, no tags) or
        creating an absent one (race-safe); returns (id, created), created True for a revival too."""
        ...

    def create_model(
        self, name: str, *, description: str, tags: dict[str, str], at: datetime, actor: str
    ) -> tuple[int, bool]:
        """Create the model, or revive a deleted one of that name (same row: its version counter and history
        go on); lock its row; returns (id, revived). Raises ``ModelAlreadyExists`` for a live one."""
        ...

    def rename_model(self, model_id: int, new_name: str, *, at: datetime) -> None:
        """Rename the model (row locked by the caller). Raises ``ModelAlreadyExists`` when any model, live or
        deleted, has ``new_name``."""
        ...

    def mark_model_deleted(self, model_id: int, *, at: datetime, actor: str) -> list[int]:
        """Soft-delete the model (row locked by the caller): its live versions marked deleted, its aliases
        removed (their history intervals closed), the model marked deleted, so no lookup by name finds it.
        Returns the numbers of the versions it deleted, ascending. A constant number of statements."""
        ...

    def allocate_version(self, model_id: int, number: int | None = None) -> int:
        """Increment and return the model's version counter (caller holds the model lock); with ``number``
        (an import), set the counter to it and return it, or raise ``VersionExists`` unless it is above
        every number the model has had."""
        ...

    def insert_version(self, model_id: int, new: NewVersion) -> int: ...
    def set_alias(
        self,
        model_id: int,
        alias: str,
        version_id: int,
        *,
        at: datetime,
        actor: str,
        request_id: int | None = None,
    ) -> int | None:
        """Point the alias at a version; returns the previous version id (None if new). ``request_id``:
        the promotion request that approved the move, recorded in its history interval."""
        ...

    def delete_alias(self, model_id: int, alias: str, *, at: datetime, actor: str) -> int | None: ...
    def aliases_of(self, version_id: int) -> list[str]: ...
    def set_model_tag(self, model_id: int, key: str, value: str, *, at: datetime) -> str | None: ...
    def delete_model_tag(self, model_id: int, key: str, *, at: datetime) -> str | None: ...
    def set_version_tag(self, version_id: int, key: str, value: str, *, at: datetime) -> str | None: ...
    def delete_version_tag(self, version_id: int, key: str, *, at: datetime) -> str | None: ...
    def set_model_description(self, model_id: int, text: str, *, at: datetime) -> str: ...
    def set_version_description(self, version_id: int, text: str, *, at: datetime) -> str: ...
    def set_stage(
        self, version_id: int, stage: str, *, at: datetime, actor: str, request_id: int | None = None
    ) -> str:
        """Returns the previous stage; records the stage history interval (with the approving request)."""
        ...

    def mark_deleted(self, version_id: int, *, at: datetime, actor: str) -> None: ...
    def remember_idempotency(
        self, key: str, request_digest: str, version_id: int, *, at: datetime, forget_before: datetime
    ) -> None:
        """Remembers the key. Keys remembered before ``forget_before`` are expired: an expired row of this
        key is replaced; the others are deleted in bounded batches, once the oldest is an hour past it."""
        ...

    def audit_head(self) -> tuple[int, str, datetime | None]:
        """(last sequence number, last hash, last event time), holding the chain's write lock until the
        session ends."""
        ...

    def append_audit(self, record: AuditRecord) -> None: ...
    def audit_events(self, *, after: int = 0, limit: int = 1000) -> list[AuditRecord]: ...

    def audit_seq(self) -> int:
        """The last event's sequence number, without taking the chain's lock."""
        ...

    def audit_query(self, query: AuditQuery) -> list[AuditRecord]: ...

    def audit_chain(self, *, through: int) -> Generator[AuditRecord]:
        """Every event up to ``through`` in sequence order, streamed by one query: the read verification
        uses. Needs a ``snapshot`` session."""
        ...

    def audit_chain_head(self) -> tuple[int, str]:
        """The chain head row: last sequence number and hash (``GENESIS`` and 0 for an empty log)."""
        ...

    # Deployments: intervals of a model's version serving an (environment, endpoint).
    def open_deployment(self, model_id: int, environment: str, endpoint: str) -> DeploymentRow | None: ...
    def start_deployment(
        self,
        *,
        model_id: int,
        version_id: int,
        digest: str,
        environment: str,
        endpoint: str,
        at: datetime,
        actor: str,
    ) -> int: ...
    def end_deployment(self, deployment_id: int, *, at: datetime, actor: str) -> None: ...
    def deployment(self, deployment_id: int) -> DeploymentRow: ...
    def deployments_at(
        self,
        *,
        at: datetime | None,
        environment: str | None,
        model_id: int | None,
        visible: Sequence[str] | None = None,
    ) -> list[DeploymentRow]:
        """Deployments serving at ``at`` (None: the open ones), ordered by environment, model, endpoint;
        ``visible``: only models whose name matches one of these patterns (None: every model)."""
        ...

    # History: what pointed where at an instant (intervals are half-open, [valid_from, valid_to)).
    def alias_target_at(self, model_id: int, alias: str, at: datetime) -> int | None:
        """The version id ``alias`` pointed to at ``at``; None when it pointed nowhere."""
        ...

    def alias_ever_set(self, model_id: int, alias: str) -> bool: ...

    def stage_holder_at(self, model_id: int, stage: str, at: datetime) -> int | None:
        """Of the versions in ``stage`` at ``at``, the one that entered it last; None when there is none."""
        ...

    def latest_at(self, model_id: int, at: datetime) -> int | None:
        """The highest-numbered version that existed and was not deleted at ``at``."""
        ...

    def version_created_at(self, version_id: int) -> datetime: ...

    def audit_actions_after(self, seq: int, actions: Collection[str]) -> bool:
        """Whether an event with one of these actions was appended after event ``seq``."""
        ...

    # Storage statistics (registry/stats.py) -----------------------------------------------------------------
    def storage_usage(
        self, name: str | None = None, *, visible: Sequence[str] | None = None
    ) -> list[tuple[str, int, int, int, int, int]]:
        """Per model (only ``name`` when given, only names matching ``visible`` when given), by name: (name,
        versions, deleted versions, logical bytes, physical bytes, distinct chunks), counting versions
        whose content is kept (not purged)."""
        ...

    def storage_total(
        self, name: str | None = None, *, visible: Sequence[str] | None = None
    ) -> tuple[int, int]:
        """(physical bytes, distinct chunks) of those versions together: a shared chunk counts once."""
        ...

    def creation_event(self, model: str, target: str) -> AuditRecord | None:
        """The registry:version:create audit event of ``target`` ('name/3')."""
        ...

    # Garbage collection (registry/collection.py) -----------------------------------------------------------
    def lock_collection(self) -> None:
        """Take the lock that orders collection against commits and chunk leases until the session ends: the
        audit chain's lock, which every commit takes too. Call it first in the write session."""
        ...

    def referenced_chunks(self, digests: Collection[str] | None = None) -> set[str]:
        """Of these chunk digests (every one when None), those that a file of a version not purged is made
        of: garbage collection's roots."""
        ...

    def referenced_files(self, digests: Collection[str]) -> set[str]:
        """Of these whole-file digests, those that a version not purged lists."""
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

    # Retention, holds and purges (registry/retention.py) --------------------------------------------------
    def mark_purged(self, version_id: int, *, at: datetime, actor: str) -> None: ...
    def hold(self, version_id: int) -> LegalHold | None: ...
    def set_hold(self, version_id: int, reason: str, *, at: datetime, actor: str) -> str | None:
        """Place (or re-word) the version's hold; returns the previous reason (None when it was not held)."""
        ...

    def delete_hold(self, version_id: int) -> str | None:
        """Lift the version's hold; returns its reason (None when it was not held)."""
        ...

    def holds(self, model_id: int | None, *, visible: Sequence[str] | None = None) -> list[LegalHold]:
        """Every hold (of one model, or of all), by model name and version number; ``visible``: only
        models whose names match one of these patterns (None: every model)."""
        ...

    def retention_policies(self, *, visible: Sequence[str] | None = None) -> list[RetentionPolicy]:
        """Every policy: the global one first, then by model name; ``visible`` as for ``holds`` (the global
        policy is always listed)."""
        ...

    def retention_policy(self, model_id: int | None) -> RetentionPolicy | None:
        """A model's own policy, or (None) the global one."""
        ...

    def set_retention_policy(
        self,
        model_id: int | None,
        *,
        keep_last: int | None,
        archived_days: int | None,
        deleted_days: int | None,
        at: datetime,
        actor: str,
    ) -> None: ...
    def delete_retention_policy(self, model_id: int | None) -> bool: ...
    def retention_models(self, *, deleted: bool) -> list[tuple[int, str]]:
        """(id, name) of every live model, and with ``deleted`` of every deleted one too, by name."""
        ...

    def lock_model_row(self, model_id: int) -> str:
        """Take the model's row write lock, live or deleted (as ``model_id(lock=True)`` does for a live
        one); its current name."""
        ...

    def retention_states(self, model_id: int) -> list[VersionState]:
        """The model's versions that are not purged yet, newest first."""
        ...

    # Governed promotion (registry/promotion.py) -------------------------------------------------------------
    def stored_policy(self) -> StoredPolicy | None: ...
    def put_policy(self, text: str, *, at: datetime, actor: str) -> None: ...
    def delete_policy(self) -> bool: ...
    def insert_promotion(
        self,
        *,
        model_id: int,
        version_id: int,
        target: str,
        kind: str,
        comment: str,
        approvals_required: int,
        at: datetime,
        expires_at: datetime,
        actor: str,
    ) -> int: ...
    def promotion(self, request_id: int) -> PromotionRow | None: ...
    def promotions(
        self,
        *,
        model_id: int | None,
        status: str | None,
        now: datetime,
        limit: int,
        after: int,
        visible: Sequence[str] | None = None,
    ) -> list[PromotionRow]:
        """Newest first, ids below ``after`` (0: all); 'expired' and 'pending' as reported at ``now``; only
        live models' requests (``promotion`` finds a deleted model's by id); ``visible`` as for ``holds``."""
        ...

    def approvals(self, request_ids: Sequence[int]) -> dict[int, list[Approval]]: ...
    def add_approval(self, request_id: int, *, actor: str, at: datetime, comment: str) -> bool:
        """Record an approval; False when this actor had already approved (nothing written)."""
        ...

    def close_promotion(
        self, request_id: int, status: str, *, at: datetime, actor: str, comment: str
    ) -> None: ...
    def stage_versions(self, model_id: int, stage: str) -> list[int]:
        """Ids of the model's live versions in ``stage``, by number."""
        ...

    # Tokens ---------------------------------------------------------------------------------------------
    def insert_token(
        self,
        *,
        name: str,
        role: str,
        secret_hash: str,
        at: datetime,
        actor: str,
        expires_at: datetime | None,
        user: str | None = None,
    ) -> Token: ...
    def token_by_hash(self, secret_hash: str) -> Token | None: ...
    def list_tokens(self) -> list[Token]: ...
    def revoke_tokens(self, name: str, *, at: datetime, actor: str) -> int:
        """Revoke every active token of that name; returns how many."""
        ...

    # Access control (registry/principals.py; principals are text: 'user:alice', 'group:g', 'token:ci') ----
    def insert_principal(
        self, kind: Literal["user", "group"], name: str, *, at: datetime, actor: str
    ) -> bool:
        """Create a user or group; False (nothing written) when one of that name exists."""
        ...

    def delete_principal(self, kind: Literal["user", "group"], name: str) -> bool:
        """Delete a user or group with its bindings and memberships; False when there is none."""
        ...

    def principal_exists(self, principal: str) -> bool:
        """A user or group of that name, or a token of that name not revoked."""
        ...

    def users(self) -> list[User]: ...
    def groups(self) -> list[Group]: ...
    def add_member(self, group: str, member: str, *, at: datetime, actor: str) -> bool | None:
        """True when added, False when already a member, None when the group does not exist."""
        ...

    def remove_member(self, group: str, member: str) -> bool: ...
    def insert_binding(self, binding: RoleBinding) -> bool:
        """False (nothing written) when that exact binding exists."""
        ...

    def delete_binding(self, principal: str, role: str, models: str) -> bool: ...
    def bindings(self, principal: str | None = None) -> list[RoleBinding]: ...
    def grants_of(self, principals: Sequence[str]) -> list[tuple[str, str]]:
        """(role, models) of the bindings of these principals and of the groups they are members of."""
        ...

    def revoke_user_tokens(self, user: str, *, at: datetime, actor: str) -> int:
        """Revoke every active token that acts as ``user``; returns how many."""
        ...


class MetadataStore(Protocol):
    url: str

    def session(
        self, *, write: bool = False, snapshot: bool = False
    ) -> AbstractContextManager[MetadataSession]:
        """A transaction; ``write`` sessions serialise with other writers and commit on clean exit.

        A read session's statements may each see the latest commits (PostgreSQL reads run in autocommit);
        ``snapshot`` makes them all see one snapshot, and lets a read stream its rows (``audit_chain``)."""
        ...

    def exclusive(self, name: str) -> AbstractContextManager[None]:
        """Hold the lock called ``name`` across every process using this database (waiting for a holder).
        It dies with its holder, so a crash never leaves it taken. Garbage collection runs under "gc"."""
        ...

    def close(self) -> None: ...
