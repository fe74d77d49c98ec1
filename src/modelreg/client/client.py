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
from modelreg.types import (
    AliasChange,
    GcReport,
    Lineage,
    Model,
    ModelVersion,
    Page,
    PullResult,
    PushStats,
    StageChange,
    Token,
)

__all__ = ["Client"]


class Client:
    """A connection to one registry. Thread-safe; close it (or use ``with``) to release the database."""

    def __init__(
        self,
        backend: Backend,
        *,
        cache: ChunkCache | None = None,
        workers: int = 8,
        on_close: Callable[[], None] | None = None,
        location: str = "",
    ) -> None:
        self._backend = backend
        self._cache = cache
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
        progress: Progress | None = None,
    ) -> ModelVersion:
        """Register a new version of ``name`` from a directory or a single file; returns it.

        Unchanged files move no bytes; new content is chunked, hashed and stored before one commit.
        ``progress(event, nbytes)`` receives ("total", n) once, then ("hashed", n) and ("stored", n).
        Raises ``InvalidName``, ``InvalidPath``, ``InvalidMetadata``, ``EmptyModel``, ``PathNotFound``…;
        on any error nothing is registered. With the same ``idempotency_key`` (e.g. a CI job id), a push
        repeated after a failure returns the version the first one created instead of a second version;
        over HTTP the commit always carries a key (a fresh one when none is given), so the SDK's own
        retries never register twice.
        """
        version, stats = pushing.push(
            self._backend,
            name,
            os.fspath(path),
            workers=self._workers,
            progress=progress,
            metrics=metrics,
            params=params,
            tags=tags,
            description=description,
            lineage=lineage,
            signature=signature,
            aliases=list(aliases) if aliases is not None else None,
            idempotency_key=idempotency_key,
        )
        self.last_push = stats
        return version

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

    # Tokens (admins) --------------------------------------------------------------------------------------
    def create_token(self, name: str, *, role: str, expires_at: datetime | None = None) -> Token:
        """A new API token for 'viewer', 'contributor' or 'admin'; ``.secret`` is shown this once."""
        return self._backend.create_token(name, role=role, expires_at=expires_at)

    def list_tokens(self) -> list[Token]:
        return self._backend.list_tokens()

    def revoke_token(self, name: str) -> int:
        """Revoke the active tokens called ``name``; returns how many were revoked."""
        return self._backend.revoke_token(name)

    # Storage (admins) -------------------------------------------------------------------------------------
    def collect_garbage(self, *, apply: bool = False) -> GcReport:
        """Find chunks no version references (and, with ``apply=True``, delete them); returns the report.

        A dry run (the default) changes nothing. Safe while pushes run: chunks of versions, chunks a client
        was told are present, and chunks written within the grace period (``MODELREG_GC_GRACE_SECONDS``,
        default 24 h) are kept. Needs the storage:admin permission (admins).
        """
        return self._backend.collect_garbage(apply=apply)
