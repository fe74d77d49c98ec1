"""``Registry``: the use cases, one method each, for one actor.

Every surface (embedded SDK, HTTP API, CLI through the SDK) calls these methods and nothing else. Each write
runs in one metadata transaction together with its audit event (DESIGN invariant 4); every input is
validated before anything is written (invariant 6).

A ``Registry`` is cheap: the server builds one per request for the caller; the embedded SDK builds one for
the local user.

This module holds the reads and the ungoverned writes; the other use cases are mixed in from their own
modules, each checking its permissions the same way: ``content`` (push and pull), ``governance`` (time
travel, deployments, audit, promotion, policy), ``admin`` (storage, tokens), ``retention`` (holds, policies,
purge), ``principals`` (users, groups, role bindings), ``catalog`` (create, rename, delete models),
``tracking`` (MLflow experiments, runs, logged models) and ``artifacts`` (files stored by path).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from modelreg.access import Actor, Permission
from modelreg.blobs.protocol import ChunkStore
from modelreg.digest import parse_digest
from modelreg.errors import (
    AliasNotFound,
    InvalidInput,
    ModelNotFound,
    TagNotFound,
    VersionDeleted,
    VersionNotFound,
    VersionProtected,
    VersionPurged,
)
from modelreg.metadata.protocol import MetadataSession, MetadataStore, VersionKey
from modelreg.registry import audit, moves
from modelreg.registry.admin import AdminCases
from modelreg.registry.artifacts import ArtifactCases
from modelreg.registry.catalog import CatalogCases
from modelreg.registry.content import ContentCases
from modelreg.registry.direct import DirectTransfers
from modelreg.registry.filters import parse_filter, parse_order_by
from modelreg.registry.governance import GovernanceCases
from modelreg.registry.names import (
    MAX_TAG_VALUE,
    check_alias,
    check_description,
    check_model_name,
    check_stage,
    check_strings,
)
from modelreg.registry.paging import check_limit, decode_token, encode_token
from modelreg.registry.policy_source import PolicySource
from modelreg.registry.principals import PrincipalCases
from modelreg.registry.refs import MAX_VERSION, Ref, model_of, parse_ref
from modelreg.registry.retention import RetentionCases
from modelreg.registry.tracking import TrackingCases
from modelreg.types import STAGES, AliasChange, Model, ModelVersion, Page, StageChange

__all__ = ["DEFAULT_GC_GRACE_SECONDS", "Registry"]

DEFAULT_GC_GRACE_SECONDS = 24 * 3600.0
_MAX_GC_GRACE_SECONDS = 1e9  # ~31 years; far beyond it a datetime cannot hold "now + grace"

Clock = Callable[[], datetime]
# Applies one annotation change to a model or version id; returns the previous value.
_Annotation = Callable[[MetadataSession, int, datetime], str | None]


def utc_now() -> datetime:
    return datetime.now(UTC)


class Registry(
    ContentCases,
    GovernanceCases,
    AdminCases,
    RetentionCases,
    PrincipalCases,
    CatalogCases,
    TrackingCases,
    ArtifactCases,
):
    def __init__(
        self,
        metadata: MetadataStore,
        chunks: ChunkStore,
        *,
        actor: Actor,
        clock: Clock = utc_now,
        verify_file_digests: bool = True,
        verify_chunks: bool = True,
        gc_grace_seconds: float = DEFAULT_GC_GRACE_SECONDS,
        direct: DirectTransfers | None = None,
        audit_production_pulls: bool = False,
        policies: PolicySource | None = None,
    ) -> None:
        """``verify_file_digests``: re-hash new files' chunks at commit to check the whole-file digests a
        client claims (a wrong one would poison the known-files table). The embedded SDK turns it off: there
        the client is this process, which computed the digests itself and can write the store anyway; a
        server does only when its operator says so (``MODELREG_VERIFY_FILE_DIGESTS``, see registry/direct.py).

        ``verify_chunks``: check each uploaded chunk against its sha256 before storing it. Only the embedded
        SDK turns it off, for the same reason (it hashed those bytes an instant ago); a server always checks.

        ``gc_grace_seconds``: garbage collection keeps an unreferenced chunk that long after it was written
        or after a client was told it is present (see ``registry.collection``).

        ``audit_production_pulls``: every pull (manifest read) of a version in stage production appends a
        ``registry:version:pull`` audit event: who took which digest, when.

        ``policies``: where the promotion policy comes from (a file, or the database; ``registry.policy``),
        shared by every ``as_actor`` copy so the parsed policy is cached once per process.

        ``direct``: hand out presigned URLs so clients move chunk bytes straight to and from the store
        (``registry.direct``); None (the default): chunks travel through the caller of these methods.
        """
        if not 0 <= gc_grace_seconds <= _MAX_GC_GRACE_SECONDS:  # NaN fails too
            raise InvalidInput(
                f"invalid garbage collection grace period {gc_grace_seconds!r}: expected 0 to "
                f"{_MAX_GC_GRACE_SECONDS:.0f} seconds"
            )
        self.metadata = metadata
        self.chunks = chunks
        self.actor = actor
        self.verify_file_digests = verify_file_digests
        self.verify_chunks = verify_chunks
        self.gc_grace_seconds = float(gc_grace_seconds)
        self.direct = direct
        self.audit_production_pulls = audit_production_pulls
        self.policies = policies if policies is not None else PolicySource()
        self._clock = clock

    def as_actor(self, actor: Actor) -> Registry:
        return Registry(
            self.metadata,
            self.chunks,
            actor=actor,
            clock=self._clock,
            verify_file_digests=self.verify_file_digests,
            verify_chunks=self.verify_chunks,
            gc_grace_seconds=self.gc_grace_seconds,
            direct=self.direct,
            audit_production_pulls=self.audit_production_pulls,
            policies=self.policies,
        )

    def check_ready(self) -> None:
        """Raise ``StorageUnavailable`` unless the database answers a query and the chunk store a call."""
        with self.metadata.session() as session:
            session.model_id("readiness-probe")
        self.chunks.exists(parse_digest("sha256:" + "0" * 64))

    # Reads ------------------------------------------------------------------------------------------------
    def get_model(self, name: str) -> Model:
        self.actor.require(Permission.MODEL_READ, model=name)
        check_model_name(name)
        with self.metadata.session() as session:
            model = session.model(name)
        if model is None:
            raise ModelNotFound(f"model {name!r} not found")
        return model

    def list_models(self, *, limit: int = 100, page_token: str | None = None) -> Page[Model]:
        return self.search_models(None, limit=limit, page_token=page_token)

    def get_version(self, ref: str) -> ModelVersion:
        self.actor.require(Permission.MODEL_READ, model=model_of(ref))
        with self.metadata.session() as session:
            key = self._key(session, parse_ref(ref))
            return session.version(key.version_id)

    def list_versions(
        self, name: str, *, include_deleted: bool = False, limit: int = 100, page_token: str | None = None
    ) -> Page[ModelVersion]:
        self.actor.require(Permission.MODEL_READ, model=name)
        check_model_name(name)
        limit = check_limit(limit)
        query = ("list_versions", name, include_deleted)
        offset = decode_token(page_token, query)
        with self.metadata.session() as session:
            model_id = self._model_id(session, name)
            ids = session.list_versions(
                model_id, include_deleted=include_deleted, limit=limit + 1, offset=offset
            )
            items = session.versions(ids[:limit])
        return _page(items, len(ids) > limit, offset + limit, query)

    def search_versions(
        self,
        filter: str | None = None,
        *,
        order_by: Sequence[str] | None = None,
        include_deleted: bool = False,
        limit: int = 100,
        page_token: str | None = None,
    ) -> Page[ModelVersion]:
        self.actor.require_somewhere(Permission.MODEL_READ)
        visible = self.actor.scope(Permission.MODEL_READ)  # filtered in SQL
        expr = parse_filter(filter, target="versions")
        order = parse_order_by(order_by, target="versions")
        limit = check_limit(limit)
        query = ("search_versions", filter, list(order_by or ()), include_deleted)
        offset = decode_token(page_token, query)
        with self.metadata.session() as session:
            ids = session.search_versions(
                expr, order, include_deleted=include_deleted, limit=limit + 1, offset=offset, visible=visible
            )
            items = session.versions(ids[:limit])
        return _page(items, len(ids) > limit, offset + limit, query)

    def search_models(
        self,
        filter: str | None = None,
        *,
        order_by: Sequence[str] | None = None,
        limit: int = 100,
        page_token: str | None = None,
    ) -> Page[Model]:
        self.actor.require_somewhere(Permission.MODEL_READ)
        visible = self.actor.scope(Permission.MODEL_READ)  # filtered in SQL
        expr = parse_filter(filter, target="models")
        order = parse_order_by(order_by, target="models")
        limit = check_limit(limit)
        query = ("search_models", filter, list(order_by or ()))
        offset = decode_token(page_token, query)
        with self.metadata.session() as session:
            items = session.search_models(expr, order, limit=limit + 1, offset=offset, visible=visible)
        return _page(items[:limit], len(items) > limit, offset + limit, query)

    def latest_versions(
        self, names: Sequence[str], *, stages: Sequence[str] | None = None
    ) -> dict[str, list[ModelVersion]]:
        """The newest live version of each stage (of ``stages``; all by default) of each model in ``names``
        (MLflow's ``latest_versions``), by model name; one query for all of them. Unknown names: no entry."""
        for name in names:
            self.actor.require(Permission.MODEL_READ, model=name)
            check_model_name(name)
        wanted = [check_stage(stage) for stage in (STAGES if stages is None else stages)]
        with self.metadata.session() as session:
            found = session.versions(session.latest_per_stage(list(names), wanted))
        result: dict[str, list[ModelVersion]] = {}
        for version in sorted(found, key=lambda v: v.version):
            result.setdefault(version.name, []).append(version)
        return result

    def alias_history(self, name: str, alias: str) -> list[AliasChange]:
        self.actor.require(Permission.MODEL_READ, model=name)
        check_model_name(name)
        check_alias(alias)
        with self.metadata.session() as session:
            return session.alias_history(self._model_id(session, name), alias)

    def stage_history(self, ref: str) -> list[StageChange]:
        self.actor.require(Permission.MODEL_READ, model=model_of(ref))
        with self.metadata.session() as session:
            return session.stage_history(self._key(session, parse_ref(ref)).version_id)

    # Writes -----------------------------------------------------------------------------------------------
    def set_alias(self, name: str, alias: str, version: int) -> AliasChange:
        self.actor.require(Permission.ALIAS_WRITE, model=name)
        check_model_name(name)
        check_alias(alias)
        if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= MAX_VERSION:
            raise InvalidInput(
                f"invalid version {str(version)[:40]!r}: expected an integer from 1 to {MAX_VERSION}"
            )
        with self.metadata.session(write=True) as session:
            model_id = self._model_id(session, name, lock=True)
            now = self._now(session.alias_since(model_id, alias))
            key = self._key(session, Ref(name, version=version))
            if key.deleted:
                raise VersionDeleted(
                    f"version {version} of model {name!r} is deleted; an alias cannot point to it"
                )
            if key.purged:  # checked under the model lock, which purges take too
                raise VersionPurged(
                    f"version {version} of model {name!r} is purged; an alias cannot point to it"
                )
            moves.guard_direct(self, session, name=name, key=key, target=f"@{alias}")
            previous = session.set_alias(model_id, alias, key.version_id, at=now, actor=self.actor.name)
            before = None if previous is None else session.version(previous).version
            self._audit(
                session, now, "registry:alias:set", name, f"{name}@{alias}", before=before, after=version
            )
        return AliasChange(name, alias, version, now, None, self.actor.name, None)

    def delete_alias(self, name: str, alias: str) -> None:
        self.actor.require(Permission.ALIAS_WRITE, model=name)
        check_model_name(name)
        check_alias(alias)
        with self.metadata.session(write=True) as session:
            model_id = self._model_id(session, name, lock=True)
            if session.alias_since(model_id, alias) is not None:
                moves.guard_leave(self, session, name=name, targets=[f"@{alias}"])
            now = self._now(session.alias_since(model_id, alias))
            previous = session.delete_alias(model_id, alias, at=now, actor=self.actor.name)
            if previous is None:
                raise AliasNotFound(f"alias {alias!r} of model {name!r} not found")
            before = session.version(previous).version
            self._audit(
                session, now, "registry:alias:delete", name, f"{name}@{alias}", before=before, after=None
            )

    def set_tag(self, target: str, key: str, value: str) -> None:
        """Tag a model ('name') or a version ('name/3', 'name@alias', …)."""
        self.actor.require(Permission.MODEL_WRITE, model=model_of(target))
        value = check_strings("tag", {key: value}, max_value=MAX_TAG_VALUE)[key]
        self._annotate(
            target,
            "registry:tag:set",
            key=key,
            after=value,
            on_model=lambda s, model_id, at: s.set_model_tag(model_id, key, value, at=at),
            on_version=lambda s, version_id, at: s.set_version_tag(version_id, key, value, at=at),
        )

    def delete_tag(self, target: str, key: str) -> None:
        self.actor.require(Permission.MODEL_WRITE, model=model_of(target))
        self._annotate(
            target,
            "registry:tag:delete",
            key=key,
            after=None,
            on_model=lambda s, model_id, at: s.delete_model_tag(model_id, key, at=at),
            on_version=lambda s, version_id, at: s.delete_version_tag(version_id, key, at=at),
        )

    def update_description(self, target: str, description: str) -> None:
        self.actor.require(Permission.MODEL_WRITE, model=model_of(target))
        text = check_description(description)
        self._annotate(
            target,
            "registry:description:update",
            key=None,
            after=text,
            on_model=lambda s, model_id, at: s.set_model_description(model_id, text, at=at),
            on_version=lambda s, version_id, at: s.set_version_description(version_id, text, at=at),
        )

    def set_stage(self, ref: str, stage: str, *, archive_existing: bool = False) -> ModelVersion:
        """Move a version to a stage; a governed one as the promotion policy says (``registry.promotion``).

        ``archive_existing`` (MLflow's ``archive_existing_versions``; staging and production only): the
        model's other versions in that stage move to archived in the same transaction, at the same instant.
        """
        self.actor.require(Permission.STAGE_WRITE, model=model_of(ref))
        checked = check_stage(stage)
        if archive_existing and checked not in ("staging", "production"):
            raise InvalidInput(
                f"cannot archive the other versions in {checked!r}: only staging and production archive them"
            )
        parsed = parse_ref(ref)
        with self.metadata.session(write=True) as session:
            self._model_id(session, parsed.name, lock=True)
            key = self._key(session, parsed)
            if key.deleted:
                raise VersionDeleted(f"version {key.number} of model {parsed.name!r} is deleted")
            if key.purged:  # checked under the model lock, which purges take too
                raise VersionPurged(f"version {key.number} of model {parsed.name!r} is purged")
            if checked != "production" and session.version(key.version_id).stage == "production":
                moves.guard_leave(self, session, name=parsed.name, targets=["production"])
            archive = moves.guard_direct(self, session, name=parsed.name, key=key, target=checked)
            moves.move_stage(
                self, session, name=parsed.name, key=key, stage=checked, archive=archive or archive_existing
            )
            return session.version(key.version_id)

    def delete_version(self, ref: str) -> ModelVersion:
        """Soft delete: the number is never reused, metadata and history stay; aliases on it are removed."""
        self.actor.require(Permission.VERSION_DELETE, model=model_of(ref))
        parsed = parse_ref(ref)
        with self.metadata.session(write=True) as session:
            model_id = self._model_id(session, parsed.name, lock=True)
            key = self._key(session, parsed)
            if key.deleted:
                raise VersionDeleted(f"version {key.number} of model {parsed.name!r} is already deleted")
            if session.hold(key.version_id) is not None:
                raise VersionProtected(
                    f"{parsed.name}/{key.number} is under legal hold: it cannot be deleted",
                    details={"reasons": ["hold"]},
                )
            removed = session.aliases_of(key.version_id)
            in_production = ["production"] if session.version(key.version_id).stage == "production" else []
            moves.guard_leave(
                self, session, name=parsed.name, targets=[*(f"@{a}" for a in removed), *in_production]
            )
            now = self._now(*(session.alias_since(model_id, alias) for alias in removed))
            session.mark_deleted(key.version_id, at=now, actor=self.actor.name)
            target = f"{parsed.name}/{key.number}"
            self._audit(session, now, "registry:version:delete", parsed.name, target, aliases_removed=removed)
            return session.version(key.version_id)

    # Helpers ----------------------------------------------------------------------------------------------
    def _annotate(
        self,
        target: str,
        action: str,
        *,
        key: str | None,
        after: str | None,
        on_model: _Annotation,
        on_version: _Annotation,
    ) -> None:
        """Change a tag or description of a model ('name') or of a version (any version reference)."""
        parsed = parse_ref(target)
        is_model = parsed == Ref(parsed.name) and "/" not in target
        with self.metadata.session(write=True) as session:
            model_id = self._model_id(session, parsed.name, lock=True)
            now = self._now()
            if is_model:
                label, before = parsed.name, on_model(session, model_id, now)
            else:
                version_key = self._key(session, parsed)
                label = f"{parsed.name}/{version_key.number}"
                before = on_version(session, version_key.version_id, now)
            if action == "registry:tag:delete" and before is None:
                raise TagNotFound(f"tag {key!r} not found on {label!r}")
            self._audit(session, now, action, parsed.name, label, key=key, before=before, after=after)

    def _now(self, *since: datetime | None) -> datetime:
        """The time of a change: read inside the transaction, after its locks, and never before the start
        of the interval it closes, so history stays ordered even across hosts whose clocks disagree."""
        return max([self._clock(), *(moment for moment in since if moment is not None)])

    def _audit(
        self, session: MetadataSession, at: datetime, action: str, model: str | None, target: str, **data: Any
    ) -> None:
        audit.record(
            session, at=at, actor=self.actor.name, action=action, model=model, target=target, data=data
        )

    @staticmethod
    def _model_id(session: MetadataSession, name: str, *, lock: bool = False) -> int:
        model_id = session.model_id(name, lock=lock)
        if model_id is None:
            raise ModelNotFound(f"model {name!r} not found")
        return model_id

    def _key(self, session: MetadataSession, ref: Ref) -> VersionKey:
        if ref.version is not None:
            key = session.version_key(ref.name, ref.version)
            missing = f"version {ref.version} of model {ref.name!r} not found"
        elif ref.alias is not None:
            key = session.alias_key(ref.name, ref.alias)
            if key is None and session.model_id(ref.name) is not None:
                raise AliasNotFound(f"alias {ref.alias!r} of model {ref.name!r} not found")
            missing = ""
        elif ref.digest is not None:
            key = session.digest_key(ref.name, ref.digest)
            missing = f"no live version of model {ref.name!r} has digest {ref.digest}"
        else:
            key = session.latest_key(ref.name)
            missing = f"model {ref.name!r} has no live versions"
        if key is not None:
            return key
        self._model_id(session, ref.name)  # raises ModelNotFound when the model itself is unknown
        raise VersionNotFound(missing)


def _page(items: list[Any], more: bool, next_offset: int, query: object) -> Page[Any]:
    return Page(items=items, next_page_token=encode_token(next_offset, query) if more else None)
