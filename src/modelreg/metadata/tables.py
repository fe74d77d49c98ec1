"""The metadata schema (SQLAlchemy Core). Built only by the Alembic migrations; a test checks they agree.

Times are stored as UTC ``DateTime(timezone=True)``. JSON documents (manifest, lineage, signature) are stored
as canonical text so their bytes, and so their digests, never depend on the database.

History tables hold intervals (``valid_from`` ≤ t < ``valid_to``, open when ``valid_to`` is NULL), so "what
did ``@champion`` point to at time T" is one indexed lookup, never a replay.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

__all__ = [
    "alias_history",
    "aliases",
    "audit_events",
    "audit_head",
    "chunk_leases",
    "chunk_sweeps",
    "deployments",
    "file_chunks",
    "files",
    "group_members",
    "groups",
    "idempotency_keys",
    "metadata",
    "model_tags",
    "models",
    "promotion_approvals",
    "promotion_policy",
    "promotion_requests",
    "retention_policies",
    "role_bindings",
    "stage_history",
    "tokens",
    "users",
    "version_datasets",
    "version_files",
    "version_holds",
    "version_metrics",
    "version_params",
    "version_parents",
    "version_tags",
    "versions",
]

# Deterministic constraint names, so batch-mode migrations can alter them on SQLite and PostgreSQL alike.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

NAME = String(128)
KEY = String(250)
ACTOR = String(256)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, on SQLite (which stores naive text) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the metadata store; use UTC-aware datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


TIME = UTCDateTime()
ID = BigInteger().with_variant(Integer(), "sqlite")  # SQLite only auto-increments INTEGER PRIMARY KEY

models = Table(
    "models",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("name", NAME, nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", TIME, nullable=False),
    Column("created_by", ACTOR, nullable=False),
    Column("updated_at", TIME, nullable=False),
    # The last version number handed out. Incremented under the model row's write lock in the same
    # transaction that inserts the version, so numbers are unique, gap-free and never reused.
    Column("last_version", Integer, nullable=False, default=0),
    # A deleted model keeps its row (history, audit, version counter); creating the name again revives it.
    Column("deleted_at", TIME, nullable=True),
    Column("deleted_by", ACTOR, nullable=True),
)

model_tags = Table(
    "model_tags",
    metadata,
    Column("model_id", ID, ForeignKey("models.id", ondelete="CASCADE"), primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("value", Text, nullable=False),
    # No (key, value) index: PostgreSQL b-tree entries are capped near 2.7 kB and tag values may be longer.
    Index(None, "key"),
)

versions = Table(
    "versions",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("model_id", ID, ForeignKey("models.id", ondelete="CASCADE"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("digest", String(71), nullable=False),
    Column("manifest", Text, nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("file_count", Integer, nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("stage", String(16), nullable=False, default="none"),
    Column("run_id", String(256), nullable=True),
    Column("lineage", Text, nullable=False),
    Column("signature", Text, nullable=True),
    Column("created_at", TIME, nullable=False),
    Column("created_by", ACTOR, nullable=False),
    Column("updated_at", TIME, nullable=False),
    Column("deleted_at", TIME, nullable=True),
    Column("deleted_by", ACTOR, nullable=True),
    # Purged: the files are no longer garbage collection roots (their chunks go unless shared); every other
    # column and child row stays, for history and lineage.
    Column("purged_at", TIME, nullable=True),
    Column("purged_by", ACTOR, nullable=True),
    UniqueConstraint("model_id", "number"),
    Index(None, "digest"),
    Index(None, "model_id", "deleted_at", "number"),
    Index(None, "created_at"),
    Index(None, "created_by"),
    Index(None, "run_id"),
    Index(None, "stage"),
)

version_metrics = Table(
    "version_metrics",
    metadata,
    Column("version_id", ID, ForeignKey("versions.id", ondelete="CASCADE"), primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("value", Float, nullable=False),
    Index(None, "key", "value", "version_id"),
)

version_params = Table(
    "version_params",
    metadata,
    Column("version_id", ID, ForeignKey("versions.id", ondelete="CASCADE"), primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("value", Text, nullable=False),
    Index(None, "key", "version_id"),
)

version_tags = Table(
    "version_tags",
    metadata,
    Column("version_id", ID, ForeignKey("versions.id", ondelete="CASCADE"), primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("value", Text, nullable=False),
    Index(None, "key", "version_id"),
)

version_datasets = Table(
    "version_datasets",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("version_id", ID, ForeignKey("versions.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(256), nullable=False),
    Column("uri", Text, nullable=True),
    Column("digest", String(128), nullable=True),
    Column("role", String(64), nullable=True),
    Index(None, "version_id"),
    Index(None, "name"),
    Index(None, "digest"),
)

version_parents = Table(
    "version_parents",
    metadata,
    Column("version_id", ID, ForeignKey("versions.id", ondelete="CASCADE"), primary_key=True),
    Column("parent_id", ID, ForeignKey("versions.id"), primary_key=True),
    Index(None, "parent_id"),
)

# A file's content, stored once whatever the number of versions holding it: whole-file sha256 → chunk list.
# A row exists only once every chunk it lists was verified present, so a push can skip a known file outright.
files = Table(
    "files",
    metadata,
    Column("digest", String(71), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("chunks", Text, nullable=False),  # canonical JSON [[chunk digest, size], …] in file order
    Column("created_at", TIME, nullable=False),
)

# The chunks of each file content, one row each: answers "does this version hold that chunk?" (chunk reads
# are authorised through a version) with one indexed lookup, and lets garbage collection mark in SQL.
file_chunks = Table(
    "file_chunks",
    metadata,
    Column("file_digest", String(71), ForeignKey("files.digest", ondelete="CASCADE"), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("chunk_digest", String(71), nullable=False),
    Column("size", Integer, nullable=False),
    Index(None, "chunk_digest", "file_digest"),
)

version_files = Table(
    "version_files",
    metadata,
    Column("version_id", ID, ForeignKey("versions.id", ondelete="CASCADE"), primary_key=True),
    Column("path", String(1024), primary_key=True),
    Column("file_digest", String(71), ForeignKey("files.digest"), nullable=False),
    Column("size", BigInteger, nullable=False),
    Index(None, "file_digest"),
)

aliases = Table(
    "aliases",
    metadata,
    Column("model_id", ID, ForeignKey("models.id", ondelete="CASCADE"), primary_key=True),
    Column("alias", String(255), primary_key=True),
    Column("version_id", ID, ForeignKey("versions.id"), nullable=False),
    Column("updated_at", TIME, nullable=False),
    Column("updated_by", ACTOR, nullable=False),
    Index(None, "version_id"),
)

alias_history = Table(
    "alias_history",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("model_id", ID, ForeignKey("models.id", ondelete="CASCADE"), nullable=False),
    Column("alias", String(255), nullable=False),
    Column("version_id", ID, ForeignKey("versions.id"), nullable=False),
    Column("valid_from", TIME, nullable=False),
    Column("valid_to", TIME, nullable=True),
    Column("set_by", ACTOR, nullable=False),
    Column("ended_by", ACTOR, nullable=True),
    Column("request_id", ID, nullable=True),  # the promotion request that approved the move (None: direct)
    Index(None, "model_id", "alias", "valid_from"),
    # At most one open interval per alias, and the index every move uses to find and close it: without it
    # that lookup walks the alias's whole history (100,000 moves of one alias cost O(n²)). Partial, so that
    # PostgreSQL's planner picks it for "valid_to IS NULL" whatever its statistics say.
    Index(
        "uq_alias_history_open",
        "model_id",
        "alias",
        unique=True,
        sqlite_where=text("valid_to IS NULL"),
        postgresql_where=text("valid_to IS NULL"),
    ),
)

stage_history = Table(
    "stage_history",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("version_id", ID, ForeignKey("versions.id", ondelete="CASCADE"), nullable=False),
    Column("stage", String(16), nullable=False),
    Column("valid_from", TIME, nullable=False),
    Column("valid_to", TIME, nullable=True),
    Column("set_by", ACTOR, nullable=False),
    Column("ended_by", ACTOR, nullable=True),
    Column("request_id", ID, nullable=True),  # the promotion request that approved the move (None: direct)
    Index(None, "version_id", "valid_from"),
)

# Append-only, hash-chained. ``audit_head`` is a single row holding the chain's last sequence number and
# hash; every writer updates it under a row lock, which orders events across processes and databases.
audit_events = Table(
    "audit_events",
    metadata,
    Column("seq", ID, primary_key=True, autoincrement=False),
    Column("at", TIME, nullable=False),
    Column("actor", ACTOR, nullable=False),
    Column("action", String(64), nullable=False),
    Column("model", NAME, nullable=True),
    Column("target", String(512), nullable=False),
    Column("data", Text, nullable=False),  # canonical JSON: before/after and details
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index(None, "model", "seq"),
    Index(None, "actor", "seq"),
    Index(None, "at"),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

# A commit retried with the same Idempotency-Key returns the version the first attempt created; keys are
# forgotten after a while (publish.IDEMPOTENCY_KEY_SECONDS), by the commits that come later.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("key", String(128), primary_key=True),
    Column("request_digest", String(71), nullable=False),
    Column("version_id", ID, ForeignKey("versions.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", TIME, nullable=False),
    Index(None, "created_at"),
)

# API tokens: only the sha256 of the secret is stored; the secret is shown once, at creation.
tokens = Table(
    "tokens",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False),
    Column("role", String(32), nullable=False),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("created_at", TIME, nullable=False),
    Column("created_by", ACTOR, nullable=False),
    Column("expires_at", TIME, nullable=True),
    Column("revoked_at", TIME, nullable=True),
    Column("revoked_by", ACTOR, nullable=True),
    # The user a token acts as (registry/principals.py): its own role plus that user's bindings.
    Column("user_name", NAME, nullable=True),
    Index(None, "name"),
)

# Access control (registry/principals.py). Memberships and bindings name a principal as text ('user:alice',
# 'group:risk-team', 'token:ci') rather than by foreign key: tokens share a name across rotations, so a
# binding on 'token:ci' applies to each of them. Deleting a user or group deletes its rows in the same
# transaction. A binding's ``models`` is a name pattern ('*' for every model; see modelreg.access).
PRINCIPAL = String(140)

users = Table(
    "users",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("name", NAME, nullable=False, unique=True),
    Column("created_at", TIME, nullable=False),
    Column("created_by", ACTOR, nullable=False),
)

groups = Table(
    "groups",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("name", NAME, nullable=False, unique=True),
    Column("created_at", TIME, nullable=False),
    Column("created_by", ACTOR, nullable=False),
)

group_members = Table(
    "group_members",
    metadata,
    Column("group_id", ID, ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column("member", PRINCIPAL, primary_key=True),
    Column("added_at", TIME, nullable=False),
    Column("added_by", ACTOR, nullable=False),
    Index(None, "member"),
)

role_bindings = Table(
    "role_bindings",
    metadata,
    Column("principal", PRINCIPAL, primary_key=True),
    Column("role", String(32), primary_key=True),
    Column("models", NAME, primary_key=True),
    Column("created_at", TIME, nullable=False),
    Column("created_by", ACTOR, nullable=False),
)

# Garbage collection's bookkeeping (registry/collection.py). A lease says "a client was told this unreferenced
# chunk is present": the collector keeps it until ``expires_at``. A sweep row says "the collector is deleting
# this chunk": a commit that references it fails (CHUNK_BEING_COLLECTED) and ``missing_chunks`` reports it
# missing. Rows left by a crashed collection are cleared by the next one, which decides afresh.
chunk_leases = Table(
    "chunk_leases",
    metadata,
    Column("digest", String(71), primary_key=True),
    Column("expires_at", TIME, nullable=False),
)

chunk_sweeps = Table(
    "chunk_sweeps",
    metadata,
    Column("digest", String(71), primary_key=True),
    Column("started_at", TIME, nullable=False),
)

# Legal holds (registry/retention.py): a held version can be neither purged nor deleted. One per version;
# who set or removed one, and when, is in the audit chain.
version_holds = Table(
    "version_holds",
    metadata,
    Column("version_id", ID, ForeignKey("versions.id", ondelete="CASCADE"), primary_key=True),
    Column("reason", Text, nullable=False),
    Column("created_at", TIME, nullable=False),
    Column("created_by", ACTOR, nullable=False),
)

# Retention policies. ``model_id`` 0 is the global policy (a primary key cannot be NULL, and two NULLs
# would not conflict, so "one global policy" could not be enforced by the database); hence no foreign key.
# Models are never removed, so a model's row cannot dangle.
retention_policies = Table(
    "retention_policies",
    metadata,
    Column("model_id", ID, primary_key=True, autoincrement=False),
    Column("keep_last", Integer, nullable=True),
    Column("archived_days", Integer, nullable=True),
    Column("deleted_days", Integer, nullable=True),
    Column("updated_at", TIME, nullable=False),
    Column("updated_by", ACTOR, nullable=False),
)

# Which version serves where (record_deployment): one row per interval [started_at, ended_at) of a model's
# version in an environment (and endpoint; '' when none). At most one open row per (environment, endpoint,
# model): recording another version ends the open one. The digest is copied: it is what the deployment pins.
deployments = Table(
    "deployments",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("environment", String(128), nullable=False),
    Column("endpoint", String(1024), nullable=False, default=""),
    Column("model_id", ID, ForeignKey("models.id", ondelete="CASCADE"), nullable=False),
    Column("version_id", ID, ForeignKey("versions.id", ondelete="CASCADE"), nullable=False),
    Column("digest", String(71), nullable=False),
    Column("started_at", TIME, nullable=False),
    Column("started_by", ACTOR, nullable=False),
    Column("ended_at", TIME, nullable=True),
    Column("ended_by", ACTOR, nullable=True),
    Index(None, "environment", "started_at"),
    Index(None, "model_id", "environment", "endpoint", "ended_at"),
    Index(None, "version_id"),
)

# Governed promotion (registry/promotion.py). A request's status is pending, applied, rejected, cancelled or
# expired; a pending one past ``expires_at`` reads as expired. One approval row per (request, approver): the
# primary key is what makes "each approver once" hold even when one approver races with themself.
promotion_requests = Table(
    "promotion_requests",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("model_id", ID, ForeignKey("models.id", ondelete="CASCADE"), nullable=False),
    Column("version_id", ID, ForeignKey("versions.id", ondelete="CASCADE"), nullable=False),
    Column("target", String(256), nullable=False),  # a stage, or '@alias'
    Column("kind", String(16), nullable=False),  # promotion | rollback
    Column("status", String(16), nullable=False),
    Column("requested_by", ACTOR, nullable=False),
    Column("requested_at", TIME, nullable=False),
    Column("comment", Text, nullable=False),
    Column("expires_at", TIME, nullable=False),
    Column("approvals_required", Integer, nullable=False),
    Column("closed_at", TIME, nullable=True),
    Column("closed_by", ACTOR, nullable=True),
    Column("closed_comment", Text, nullable=True),
    Index(None, "model_id", "status"),
    Index(None, "status", "expires_at"),
)

promotion_approvals = Table(
    "promotion_approvals",
    metadata,
    Column(
        "request_id",
        ID,
        ForeignKey("promotion_requests.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("actor", ACTOR, primary_key=True),
    Column("at", TIME, nullable=False),
    Column("comment", Text, nullable=False),
)

# The promotion policy set through the API (one row, id 1), used when no MODELREG_POLICY_FILE is configured.
promotion_policy = Table(
    "promotion_policy",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("text", Text, nullable=False),
    Column("updated_at", TIME, nullable=False),
    Column("updated_by", ACTOR, nullable=False),
)


# The tracking tables join the same MetaData (the migrations build them; the schema test compares them).
from modelreg.metadata import tracking_tables  # noqa: E402, F401 - registers its tables on `metadata`
