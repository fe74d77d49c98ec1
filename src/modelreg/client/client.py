"""``Client``: the SDK every user holds, the same whether the registry is in-process or across the network.

    reg = modelreg.connect("./registry")
    v = reg.push("churn", "out/model", metrics={"auc": 0.91}, aliases=["candidate"])
    reg.pull("churn@candidate", dest="deploy/model")

Transfers (chunking, hashing, the cache, atomic assembly) run here, on the caller's machine; everything else
is a call to the backend's use case of the same name.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from modelreg.client.backend import Backend
from modelreg.transfer import pull as pulling
from modelreg.transfer import push as pushing
from modelreg.transfer.cache import ChunkCache
from modelreg.transfer.push import Progress
from modelreg.transfer.statcache import StatCache
from modelreg.types import (
    AliasChange,
    AuditEvent,
    AuditVerification,
    Deployment,
    GcReport,
    Group,
    LegalHold,
    Lineage,
    Model,
    ModelVersion,
    Page,
    PolicyDocument,
    Promotion,
    PullResult,
    PushStats,
    RetentionPolicy,
    RetentionReport,
    RoleBinding,
    StageChange,
    StorageStats,
    Token,
    User,
)

__all__ = ["Client"]


class Client:
    """A connection to one registry. Thread-safe; close it (or use ``with``) to release the database."""

    def __init__(
        self,
        backend: Backend,
        *,
        cache: ChunkCache | None = None,
        stat_cache: StatCache | None = None,
        workers: int = 8,
        on_close: Callable[[], None] | None = None,
        location: str = "",
    ) -> None:
        self._backend = backend
        self._cache = cache
        self._stat_cache = stat_cache
        self._workers = workers
        self._on_close = on_close
        self.location = location
        self.last_push: PushStats | None = None
        self.last_pull: PullResult | None = None

    def __repr__(self) -> str:
        return f"<modelreg.Client {self.location}>"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()
        if self._on_close is not None:
            self._on_close()
            self._on_close = None

    # Transfers --------------------------------------------------------------------------------------------
    def push(
        self,
        name: str,
        path: str | os.PathLike[str],
        *,
        metrics: dict[str, float] | None = None,
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
        description: str = "",
        lineage: dict[str, Any] | Lineage | None = None,
        signature: dict[str, Any] | None = None,
        aliases: Sequence[str] | None = None,
        idempotency_key: str | None = None,
        version: int | None = None,
        progress: Progress | None = None,
    ) -> ModelVersion:
        """Register a new version of ``name`` from a directory or a single file; returns it.

        Unchanged files move no bytes; new content is chunked, hashed and stored before one commit.
        ``progress(event, nbytes)`` receives ("total", n) once, then ("hashed", n) and ("stored", n), and
        ("unchanged", n) for files the stat cache shows unchanged since an earlier push (not read again).
        Raises ``InvalidName``, ``InvalidPath``, ``InvalidMetadata``, ``EmptyModel``, ``PathNotFound``…;
        on any error nothing is registered. With the same ``idempotency_key`` (e.g. a CI job id), a push
        repeated after a failure (within 24 hours: keys are then forgotten) returns the version the first
        one created instead of a second version; over HTTP the commit always carries a key (a fresh one
        when none is given), so the SDK's own retries never register twice.

        ``version`` registers the version under that number instead of the next one, for imports from
        another registry that keep their numbers: it needs ``version:import`` and must be above every
        number the model has had (``VersionExists`` otherwise); the numbers it skips are never used.
        """
        pushed, stats = pushing.push(
            self._backend,
            name,
            os.fspath(path),
            workers=self._workers,
            progress=progress,
            stat_cache=self._stat_cache,
            metrics=metrics,
            params=params,
            tags=tags,
            description=description,
            lineage=lineage,
            signature=signature,
            aliases=list(aliases) if aliases is not None else None,
            idempotency_key=idempotency_key,
            version=version,
        )
        self.last_push = stats
        return pushed

    def pull(
        self,
        ref: str,
        *,
        dest: str | os.PathLike[str] | None = None,
        overwrite: bool = False,
        progress: Progress | None = None,
    ) -> str:
        """Materialise a version's files in ``dest`` (default ``./<name>-v<N>``); returns the path.

        Every chunk and file is verified; nothing appears at ``dest`` until all of it has. An existing
        non-empty ``dest`` is replaced only with ``overwrite=True``. ``progress`` receives ("total", n),
        ("fetched", n) for bytes read from the store and ("cached", n) for bytes from the local cache.
        """
        result = pulling.pull(
            self._backend,
            ref,
            dest=dest,
            cache=self._cache,
            overwrite=overwrite,
            workers=self._workers,
            progress=progress,
        )
        self.last_pull = result
        return result.path

    # Reads ------------------------------------------------------------------------------------------------
    def get_model(self, name: str) -> Model:
        return self._backend.get_model(name)

    def list_models(self, *, limit: int = 100, page_token: str | None = None) -> Page[Model]:
        return self._backend.list_models(limit=limit, page_token=page_token)

    def get_version(self, ref: str) -> ModelVersion:
        """Any reference form: 'name', 'name/3', 'name@alias', 'name@sha256:…', 'models:/name/3'."""
        return self._backend.get_version(ref)

    def list_versions(
        self, name: str, *, include_deleted: bool = False, limit: int = 100, page_token: str | None = None
    ) -> Page[ModelVersion]:
        """Newest first."""
        return self._backend.list_versions(
            name, include_deleted=include_deleted, limit=limit, page_token=page_token
        )

    def search_versions(
        self,
        filter: str | None = None,
        *,
        order_by: Sequence[str] | None = None,
        include_deleted: bool = False,
        limit: int = 100,
        page_token: str | None = None,
    ) -> Page[ModelVersion]:
        """Versions matching a filter, e.g. ``"metrics.auc > 0.9 and tags.team = 'risk'"``.

        ``order_by`` takes keys with ASC/DESC, e.g. ``["metrics.auc DESC"]``.
        """
        return self._backend.search_versions(
            filter, order_by=order_by, include_deleted=include_deleted, limit=limit, page_token=page_token
        )

    def search_models(
        self,
        filter: str | None = None,
        *,
        order_by: Sequence[str] | None = None,
        limit: int = 100,
        page_token: str | None = None,
    ) -> Page[Model]:
        return self._backend.search_models(filter, order_by=order_by, limit=limit, page_token=page_token)

    def alias_history(self, name: str, alias: str) -> list[AliasChange]:
        """Every interval the alias pointed somewhere, oldest first; the open one has ``until=None``."""
        return self._backend.alias_history(name, alias)

    def stage_history(self, ref: str) -> list[StageChange]:
        return self._backend.stage_history(ref)

    def resolve(self, ref: str, *, at: datetime | str | None = None) -> ModelVersion:
        """The version ``ref`` named at an instant (now when None), e.g.
        ``resolve("churn@production", at="2026-03-01T12:00:00Z")``. After '@' a stage name stands for the
        stage when the model has no alias of that name. Answered from the alias and stage history."""
        return self._backend.resolve(ref, at=at)

    # Deployments ------------------------------------------------------------------------------------------
    def record_deployment(self, ref: str, *, environment: str, endpoint: str | None = None) -> Deployment:
        """Record that ``ref``'s version now serves ``environment`` (e.g. "prod-eu") and, optionally,
        ``endpoint``: what CI/CD or the serving system calls after a rollout. The model's version recorded
        there before stops at the same instant; recording the serving version again changes nothing."""
        return self._backend.record_deployment(ref, environment=environment, endpoint=endpoint)

    def record_deployment_ended(
        self, name: str, *, environment: str, endpoint: str | None = None
    ) -> Deployment:
        """Record that model ``name`` no longer serves ``environment`` (and ``endpoint``)."""
        return self._backend.record_deployment_ended(name, environment=environment, endpoint=endpoint)

    def deployments(
        self,
        *,
        environment: str | None = None,
        model: str | None = None,
        at: datetime | str | None = None,
    ) -> list[Deployment]:
        """Which model, which version (digest) and which data (lineage) served where at ``at`` (now if
        None), from the deployment records."""
        return self._backend.deployments(environment=environment, model=model, at=at)

    # Governed promotion ----------------------------------------------------------------------------------
    def request_promotion(self, ref: str, *, to: str, comment: str | None = None) -> Promotion:
        """Ask to move ``ref``'s version to a stage ("production") or an alias ("@champion"). The policy's
        checks run now (``PolicyCheckFailed`` lists every failure); with no approvals required the move is
        applied at once (status "applied"), else the request waits for approvers (status "pending")."""
        return self._backend.request_promotion(ref, to=to, comment=comment)

    def approve(self, request_id: int, *, comment: str | None = None) -> Promotion:
        """Approve someone else's request (``SeparationOfDuties`` for one's own, ``AlreadyApproved`` twice).
        The approval that reaches the required number re-checks the policy and applies the move in the same
        transaction; if a check fails then, nothing changes, not even this approval."""
        return self._backend.approve(request_id, comment=comment)

    def reject(self, request_id: int, *, comment: str | None = None) -> Promotion:
        """Reject someone else's pending request: final."""
        return self._backend.reject(request_id, comment=comment)

    def cancel(self, request_id: int, *, comment: str | None = None) -> Promotion:
        """Withdraw one's own pending request (admins may cancel any): final."""
        return self._backend.cancel(request_id, comment=comment)

    def get_promotion(self, request_id: int) -> Promotion:
        return self._backend.get_promotion(request_id)

    def list_promotions(
        self, name: str | None = None, *, status: str | None = None, limit: int = 100
    ) -> list[Promotion]:
        """Requests, newest first: of one model, in one status (pending, applied, rejected, cancelled,
        expired). Without a model, those of every model the caller may read."""
        return self._backend.list_promotions(name, status=status, limit=limit)

    def rollback(self, ref: str, *, comment: str | None = None, emergency: bool = False) -> Promotion:
        """Move ``name@alias`` back to the version it pointed to before. Governed like any protected move (a
        pending request when approvals are required); ``emergency=True`` (promotion:emergency) applies it
        at once, audited as an emergency."""
        return self._backend.rollback(ref, comment=comment, emergency=emergency)

    def get_policy(self) -> PolicyDocument:
        """The promotion policy in force and where it comes from (file, database or default)."""
        return self._backend.get_policy()

    def set_policy(self, text: str) -> PolicyDocument:
        """Store a promotion policy (TOML text; policy:admin). Refused while a policy file is configured."""
        return self._backend.set_policy(text)

    def delete_policy(self) -> None:
        """Remove the stored promotion policy: the defaults apply again."""
        self._backend.delete_policy()

    # Audit (admins) ---------------------------------------------------------------------------------------
    def audit_events(
        self,
        *,
        actor: str | None = None,
        model: str | None = None,
        action: str | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        limit: int = 100,
        page_token: str | None = None,
    ) -> Page[AuditEvent]:
        """Audit events in sequence order, each with its chain fields; ``action`` may end in '*' to match a
        prefix (``"registry:alias:*"``); ``since`` inclusive, ``until`` exclusive."""
        return self._backend.audit_events(
            actor=actor,
            model=model,
            action=action,
            since=since,
            until=until,
            limit=limit,
            page_token=page_token,
        )

    def verify_audit(self, *, anchor: str | None = None) -> AuditVerification:
        """Recompute the audit chain; ``anchor`` ('SEQ:HASH', a head printed by an earlier verification and
        kept elsewhere) must still be in it. ``first_bad_seq`` names the first broken event."""
        return self._backend.verify_audit(anchor=anchor)

    # Writes -----------------------------------------------------------------------------------------------
    def set_alias(self, name: str, alias: str, version: int) -> AliasChange:
        return self._backend.set_alias(name, alias, version)

    def delete_alias(self, name: str, alias: str) -> None:
        self._backend.delete_alias(name, alias)

    def set_tag(self, target: str, key: str, value: str) -> None:
        """Tag a model ('name') or a version ('name/3', 'name@alias')."""
        self._backend.set_tag(target, key, value)

    def delete_tag(self, target: str, key: str) -> None:
        self._backend.delete_tag(target, key)

    def update_description(self, target: str, description: str) -> None:
        """Describe a model ('name') or a version ('name/3', 'name@alias')."""
        self._backend.update_description(target, description)

    def set_stage(self, ref: str, stage: str) -> ModelVersion:
        """'none', 'staging', 'production' or 'archived'."""
        return self._backend.set_stage(ref, stage)

    def delete_version(self, ref: str) -> ModelVersion:
        """Soft delete: the number is never reused; metadata and history stay."""
        return self._backend.delete_version(ref)

    # Models -----------------------------------------------------------------------------------------------
    def create_model(self, name: str, *, description: str = "", tags: dict[str, str] | None = None) -> Model:
        """A model without versions yet (a push creates one too); ``ModelAlreadyExists`` if it exists. A
        deleted model of that name is revived: its history goes on, and its next version number follows
        the highest it ever had. Needs model:write."""
        return self._backend.create_model(name, description=description, tags=tags)

    def rename_model(self, name: str, new_name: str) -> Model:
        """Rename a model; its aliases, versions and history move with it. ``ModelAlreadyExists`` when a
        model (live or deleted) has ``new_name``. Needs model:rename on both names (admins)."""
        return self._backend.rename_model(name, new_name)

    def delete_model(self, name: str) -> None:
        """Delete a model and every live version of it, soft: numbers, files and history are kept, and
        creating (or pushing) the name again revives it. Refused with ``VersionProtected`` while a version
        is under legal hold or a deployment is recorded as serving the model. Needs model:delete (admins)."""
        self._backend.delete_model(name)

    # Tokens (admins) --------------------------------------------------------------------------------------
    def create_token(
        self, name: str, *, role: str, expires_at: datetime | None = None, user: str | None = None
    ) -> Token:
        """A new API token for 'viewer', 'contributor', 'approver' or 'admin'; ``.secret`` is shown this
        once. With ``user`` the token acts as that user: its role plus the user's role bindings."""
        return self._backend.create_token(name, role=role, expires_at=expires_at, user=user)

    def list_tokens(self) -> list[Token]:
        return self._backend.list_tokens()

    def revoke_token(self, name: str) -> int:
        """Revoke the active tokens called ``name``; returns how many were revoked."""
        return self._backend.revoke_token(name)

    # Access control (admins: access:admin) ---------------------------------------------------------------
    def create_user(self, name: str) -> User:
        """A user (principal ``user:NAME``): tokens created with ``user=NAME`` act as it."""
        return self._backend.create_user(name)

    def delete_user(self, name: str) -> None:
        """Delete a user, its bindings and memberships; the tokens that act as it are revoked."""
        self._backend.delete_user(name)

    def list_users(self) -> list[User]:
        return self._backend.list_users()

    def create_group(self, name: str) -> Group:
        return self._backend.create_group(name)

    def delete_group(self, name: str) -> None:
        self._backend.delete_group(name)

    def add_group_member(self, group: str, member: str) -> Group:
        """Add ``user:NAME`` or ``token:NAME`` to a group; it then holds the group's bindings."""
        return self._backend.add_group_member(group, member)

    def remove_group_member(self, group: str, member: str) -> Group:
        return self._backend.remove_group_member(group, member)

    def list_groups(self) -> list[Group]:
        return self._backend.list_groups()

    def grant(self, role: str, principal: str, *, models: str = "*") -> RoleBinding:
        """Bind ``role`` to ``user:…``, ``group:…`` or ``token:…`` on models matching ``models`` (a glob
        such as ``risk-*``; ``*``: every model and the model-less operations)."""
        return self._backend.grant(role, principal, models=models)

    def revoke(self, role: str, principal: str, *, models: str = "*") -> None:
        self._backend.revoke(role, principal, models=models)

    def list_bindings(self, principal: str | None = None) -> list[RoleBinding]:
        return self._backend.list_bindings(principal)

    # Storage ----------------------------------------------------------------------------------------------
    def storage_stats(self, name: str | None = None) -> StorageStats:
        """Logical bytes, physical (deduplicated) bytes and their ratio, per model and in total.

        Versions count while their content is kept: soft-deleted ones too, purged ones not. Per model,
        physical bytes are that model's distinct chunks; the total counts each chunk once across models, so
        the rows may sum to more than the total. ``name`` limits it to one model. Needs model:read.
        """
        return self._backend.storage_stats(name)

    def collect_garbage(self, *, apply: bool = False) -> GcReport:
        """Find chunks no version references (and, with ``apply=True``, delete them); returns the report.

        A dry run (the default) changes nothing. Safe while pushes run: chunks of versions, chunks a client
        was told are present, and chunks written within the grace period (``MODELREG_GC_GRACE_SECONDS``,
        default 24 h) are kept. Needs the storage:admin permission (admins).
        """
        return self._backend.collect_garbage(apply=apply)

    # Retention: legal holds, policies, purges -------------------------------------------------------------
    def set_hold(self, ref: str, *, reason: str = "") -> LegalHold:
        """Put a version under legal hold: it can then be neither purged nor deleted (version:hold)."""
        return self._backend.set_hold(ref, reason=reason)

    def remove_hold(self, ref: str) -> None:
        """Lift a version's legal hold; raises ``HoldNotFound`` when it has none."""
        self._backend.remove_hold(ref)

    def list_holds(self, name: str | None = None) -> list[LegalHold]:
        """Every legal hold (on the models the caller may read), or those of one model."""
        return self._backend.list_holds(name)

    def purge_version(self, ref: str) -> ModelVersion:
        """Purge a version's files (metadata, lineage and history stay; pulls then fail with
        ``VersionPurged``); ``gc --apply`` later reclaims the chunks no other version shares. Refused with
        ``VersionProtected`` for a version that holds an alias, is in production or is under legal hold.
        Needs retention:admin (admins)."""
        return self._backend.purge_version(ref)

    def list_retention_policies(self) -> list[RetentionPolicy]:
        """The global policy (``name`` None) first, then each model's own (of the models the caller may
        read)."""
        return self._backend.list_retention_policies()

    def set_retention_policy(
        self,
        name: str | None = None,
        *,
        keep_last: int | None = None,
        archived_days: int | None = None,
        deleted_days: int | None = None,
    ) -> RetentionPolicy:
        """Set the global policy (no ``name``) or a model's own, which replaces the global one for it.

        ``keep_last``: keep the N newest live versions, purge those numbered below them; ``archived_days``:
        purge versions archived more than D days ago; ``deleted_days``: purge versions deleted more than D
        days ago (a deleted model's versions too, under the global policy). None turns a rule off."""
        return self._backend.set_retention_policy(
            name, keep_last=keep_last, archived_days=archived_days, deleted_days=deleted_days
        )

    def delete_retention_policy(self, name: str | None = None) -> None:
        """Remove the global policy (no ``name``) or a model's own (the global one then applies to it);
        raises ``RetentionPolicyNotFound`` when there is none."""
        self._backend.delete_retention_policy(name)

    def apply_retention(self, name: str | None = None, *, apply: bool = False) -> RetentionReport:
        """What the policies select and what protects the rest; with ``apply=True`` purge the selected
        unprotected versions. A dry run (the default) changes nothing."""
        return self._backend.apply_retention(name, apply=apply)
