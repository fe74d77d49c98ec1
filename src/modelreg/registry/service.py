"""``Registry``: the use cases, one method each, for one actor.

Every surface (embedded SDK, HTTP API, CLI through the SDK) calls these methods and nothing else. Each write
runs in one metadata transaction together with its audit event (DESIGN invariant 4); every input is
validated before anything is written (invariant 6).

A ``Registry`` is cheap: the server builds one per request for the caller; the embedded SDK builds one for
the local user.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from modelreg.access import Actor, Permission, check_role
from modelreg.blobs.protocol import ChunkStore
from modelreg.digest import parse_digest
from modelreg.errors import (
    AliasNotFound,
    ChunkNotFound,
    InvalidInput,
    ModelNotFound,
    TagNotFound,
    TokenNotFound,
    VersionDeleted,
    VersionNotFound,
)
from modelreg.metadata.protocol import MetadataSession, MetadataStore, VersionKey
from modelreg.registry import audit, collection, tokens
from modelreg.registry.filters import parse_filter, parse_order_by
from modelreg.registry.manifest import Manifest
from modelreg.registry.names import (
    MAX_TAG_VALUE,
    check_alias,
    check_description,
    check_model_name,
    check_stage,
    check_strings,
)
from modelreg.registry.paging import check_limit, decode_token, encode_token
from modelreg.registry.publish import Publication
from modelreg.registry.refs import MAX_VERSION, Ref, parse_ref
from modelreg.registry.tokens import check_token_name
from modelreg.types import AliasChange, GcReport, Model, ModelVersion, Page, StageChange, Token

__all__ = ["DEFAULT_GC_GRACE_SECONDS", "Registry"]

DEFAULT_GC_GRACE_SECONDS = 24 * 3600.0
_MAX_GC_GRACE_SECONDS = 1e9  # ~31 years; far beyond it a datetime cannot hold "now + grace"

Clock = Callable[[], datetime]
# Applies one annotation change to a model or version id; returns the previous value.
_Annotation = Callable[[MetadataSession, int, datetime], str | None]


def utc_now() -> datetime:
    return datetime.now(UTC)


class Registry:
    def __init__(
        self,
        metadata: MetadataStore,
        chunks: ChunkStore,
        *,
        actor: Actor,
        clock: Clock = utc_now,
        verify_file_digests: bool = True,
        gc_grace_seconds: float = DEFAULT_GC_GRACE_SECONDS,
    ) -> None:
        """``verify_file_digests``: re-hash new files' chunks at commit to check the whole-file digests a
        client claims (a wrong one would poison the known-files table). Only the embedded SDK turns it off:
        there the client is this process, which computed the digests itself and can write the store anyway.

        ``gc_grace_seconds``: garbage collection keeps an unreferenced chunk that long after it was written
        or after a client was told it is present (see ``registry.collection``).
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
        self.gc_grace_seconds = float(gc_grace_seconds)
        self._clock = clock

    def as_actor(self, actor: Actor) -> Registry:
        return Registry(
            self.metadata,
            self.chunks,
            actor=actor,
            clock=self._clock,
            verify_file_digests=self.verify_file_digests,
            gc_grace_seconds=self.gc_grace_seconds,
        )

    def check_ready(self) -> None:
        """Raise ``StorageUnavailable`` unless the database answers a query and the chunk store a call."""
        with self.metadata.session() as session:
            session.model_id("readiness-probe")
        self.chunks.exists(parse_digest("sha256:" + "0" * 64))

    # Transfer: what the client needs to push and pull ------------------------------------------------------
    def missing_chunks(self, digests: Sequence[str]) -> list[str]:
        """Of these chunk digests, the ones to upload before committing: those the store lacks, and those it
        holds but cannot promise to keep (being garbage collected). Every chunk not listed stays at least
        the garbage collection grace period, even if no version references it yet."""
        self.actor.require(Permission.VERSION_CREATE)
        wanted = [parse_digest(d) for d in dict.fromkeys(digests)]
        missing: set[str] = set(self.chunks.missing(wanted))
        missing |= collection.unpromised(self, [d for d in wanted if d not in missing])
        return [d for d in wanted if d in missing]

    def put_chunk(self, digest: str, data: bytes | memoryview) -> bool:
        """Store one chunk after verifying its sha256; True when its bytes were new."""
        self.actor.require(Permission.VERSION_CREATE)
        return self.chunks.put(parse_digest(digest), data)

    def known_files(self, digests: Sequence[str]) -> dict[str, list[tuple[str, int]]]:
        """Whole-file digests already stored → their chunk lists: such files need no chunking or upload.

        Only files a version lists are answered: their chunks are garbage collection roots, so the answer
        needs no lease (the client still checks that the chunks are stored, through ``missing_chunks``)."""
        self.actor.require(Permission.VERSION_CREATE)
        wanted = [parse_digest(d) for d in dict.fromkeys(digests)]
        with self.metadata.session() as session:
            found = session.known_files(wanted)
            listed = session.referenced_files(list(found)) if found else set()
        return {
            digest: [(d, s) for d, s in Publication.chunks_of(text)]
            for digest, text in found.items()
            if digest in listed
        }

    def commit_version(self, name: str, manifest: Manifest, **metadata: Any) -> ModelVersion:
        """Register a version whose chunks are all stored. See ``Publication`` for the accepted metadata."""
        self.actor.require(Permission.VERSION_CREATE)
        publication = Publication.prepare(self, name, manifest, **metadata)
        return publication.commit()

    def manifest(self, ref: str) -> tuple[ModelVersion, Manifest]:
        """The version and its manifest, for a pull. Deleted versions have no content to pull."""
        self.actor.require(Permission.VERSION_PULL)
        with self.metadata.session() as session:
            key = self._key(session, parse_ref(ref))
            if key.deleted:
                raise VersionDeleted(f"version {key.number} of model {parse_ref(ref).name!r} is deleted")
            version = session.version(key.version_id)
            manifest = Manifest.from_json(_loads(session.manifest_json(key.version_id)))
        return version, manifest

    def read_chunk(self, ref: str, digest: str) -> bytes:
        """A chunk's verified bytes, authorised through a version that holds it (never by digest alone)."""
        self.actor.require(Permission.VERSION_PULL)
        wanted = parse_digest(digest)
        parsed = parse_ref(ref)
        with self.metadata.session() as session:
            key = self._key(session, parsed)
            if key.deleted:
                raise VersionDeleted(f"version {key.number} of model {parsed.name!r} is deleted")
            if not session.version_has_chunk(key.version_id, wanted):
                raise ChunkNotFound(f"chunk {wanted} is not part of {parsed.name}/{key.number}")
        return self.chunks.get(wanted)

    # Reads ------------------------------------------------------------------------------------------------
    def get_model(self, name: str) -> Model:
        self.actor.require(Permission.MODEL_READ)
        check_model_name(name)
        with self.metadata.session() as session:
            model = session.model(name)
        if model is None:
            raise ModelNotFound(f"model {name!r} not found")
        return model

    def list_models(self, *, limit: int = 100, page_token: str | None = None) -> Page[Model]:
        return self.search_models(None, limit=limit, page_token=page_token)

    def get_version(self, ref: str) -> ModelVersion:
        self.actor.require(Permission.MODEL_READ)
        with self.metadata.session() as session:
            key = self._key(session, parse_ref(ref))
            return session.version(key.version_id)

    def list_versions(
        self, name: str, *, include_deleted: bool = False, limit: int = 100, page_token: str | None = None
    ) -> Page[ModelVersion]:
        self.actor.require(Permission.MODEL_READ)
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
        self.actor.require(Permission.MODEL_READ)
        expr = parse_filter(filter, target="versions")
        order = parse_order_by(order_by, target="versions")
        limit = check_limit(limit)
        query = ("search_versions", filter, list(order_by or ()), include_deleted)
        offset = decode_token(page_token, query)
        with self.metadata.session() as session:
            ids = session.search_versions(
                expr, order, include_deleted=include_deleted, limit=limit + 1, offset=offset
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
        self.actor.require(Permission.MODEL_READ)
        expr = parse_filter(filter, target="models")
        order = parse_order_by(order_by, target="models")
        limit = check_limit(limit)
        query = ("search_models", filter, list(order_by or ()))
        offset = decode_token(page_token, query)
        with self.metadata.session() as session:
            items = session.search_models(expr, order, limit=limit + 1, offset=offset)
        return _page(items[:limit], len(items) > limit, offset + limit, query)

    def alias_history(self, name: str, alias: str) -> list[AliasChange]:
        self.actor.require(Permission.MODEL_READ)
        check_model_name(name)
        check_alias(alias)
        with self.metadata.session() as session:
            return session.alias_history(self._model_id(session, name), alias)

    def stage_history(self, ref: str) -> list[StageChange]:
        self.actor.require(Permission.MODEL_READ)
        with self.metadata.session() as session:
            return session.stage_history(self._key(session, parse_ref(ref)).version_id)

    # Writes -----------------------------------------------------------------------------------------------
    def set_alias(self, name: str, alias: str, version: int) -> AliasChange:
        self.actor.require(Permission.ALIAS_WRITE)
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
            previous = session.set_alias(model_id, alias, key.version_id, at=now, actor=self.actor.name)
            before = None if previous is None else session.version(previous).version
            self._audit(
                session, now, "registry:alias:set", name, f"{name}@{alias}", before=before, after=version
            )
        return AliasChange(name, alias, version, now, None, self.actor.name, None)

    def delete_alias(self, name: str, alias: str) -> None:
        self.actor.require(Permission.ALIAS_WRITE)
        check_model_name(name)
        check_alias(alias)
        with self.metadata.session(write=True) as session:
            model_id = self._model_id(session, name, lock=True)
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
        self.actor.require(Permission.MODEL_WRITE)
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
        self.actor.require(Permission.MODEL_WRITE)
        self._annotate(
            target,
            "registry:tag:delete",
            key=key,
            after=None,
            on_model=lambda s, model_id, at: s.delete_model_tag(model_id, key, at=at),
            on_version=lambda s, version_id, at: s.delete_version_tag(version_id, key, at=at),
        )

    def update_description(self, target: str, description: str) -> None:
        self.actor.require(Permission.MODEL_WRITE)
        text = check_description(description)
        self._annotate(
            target,
            "registry:description:update",
            key=None,
            after=text,
            on_model=lambda s, model_id, at: s.set_model_description(model_id, text, at=at),
            on_version=lambda s, version_id, at: s.set_version_description(version_id, text, at=at),
        )

    def set_stage(self, ref: str, stage: str) -> ModelVersion:
        """Move a version to a stage. Ungoverned for now: any caller may move any stage."""
        self.actor.require(Permission.STAGE_WRITE)
        checked = check_stage(stage)
        parsed = parse_ref(ref)
        with self.metadata.session(write=True) as session:
            self._model_id(session, parsed.name, lock=True)
            key = self._key(session, parsed)
            if key.deleted:
                raise VersionDeleted(f"version {key.number} of model {parsed.name!r} is deleted")
            now = self._now(session.stage_since(key.version_id))
            previous = session.set_stage(key.version_id, checked, at=now, actor=self.actor.name)
            target = f"{parsed.name}/{key.number}"
            self._audit(
                session, now, "registry:stage:set", parsed.name, target, before=previous, after=checked
            )
            return session.version(key.version_id)

    def delete_version(self, ref: str) -> ModelVersion:
        """Soft delete: the number is never reused, metadata and history stay; aliases on it are removed."""
        self.actor.require(Permission.VERSION_DELETE)
        parsed = parse_ref(ref)
        with self.metadata.session(write=True) as session:
            model_id = self._model_id(session, parsed.name, lock=True)
            key = self._key(session, parsed)
            if key.deleted:
                raise VersionDeleted(f"version {key.number} of model {parsed.name!r} is already deleted")
            removed = session.aliases_of(key.version_id)
            now = self._now(*(session.alias_since(model_id, alias) for alias in removed))
            session.mark_deleted(key.version_id, at=now, actor=self.actor.name)
            target = f"{parsed.name}/{key.number}"
            self._audit(session, now, "registry:version:delete", parsed.name, target, aliases_removed=removed)
            return session.version(key.version_id)

    # Storage (admins) -------------------------------------------------------------------------------------
    def collect_garbage(self, *, apply: bool = False) -> GcReport:
        """Mark-and-sweep the chunk store from every version's files; a dry run unless ``apply``.

        A dry run writes nothing. ``apply`` deletes the unreferenced chunks that are neither leased (a client
        was told they are present) nor younger than the grace period, one collection at a time, safely while
        pushes run; it is audited (registry:gc:start, registry:gc:finish).
        """
        self.actor.require(Permission.STORAGE_ADMIN)
        if not isinstance(apply, bool):
            raise InvalidInput(f"apply must be true or false, not {str(apply)[:40]!r}")
        return collection.collect(self, apply=apply)

    # Tokens -----------------------------------------------------------------------------------------------
    def create_token(self, name: str, *, role: str, expires_at: datetime | None = None) -> Token:
        """A new API token; the returned ``secret`` is shown this once and never stored."""
        self.actor.require(Permission.TOKEN_ADMIN)
        check_token_name(name)
        check_role(role)
        now = self._clock()
        if expires_at is not None and (expires_at.tzinfo is None or expires_at <= now):
            raise InvalidInput("a token's expiry must be a timezone-aware time in the future")
        secret = tokens.new_secret()
        with self.metadata.session(write=True) as session:
            token = session.insert_token(
                name=name,
                role=role,
                secret_hash=tokens.secret_hash(secret),
                at=now,
                actor=self.actor.name,
                expires_at=expires_at,
            )
            self._audit(
                session, now, "registry:token:create", None, token.actor, role=role, token_id=token.id
            )
        return replace(token, secret=secret)

    def list_tokens(self) -> list[Token]:
        self.actor.require(Permission.TOKEN_ADMIN)
        with self.metadata.session() as session:
            return session.list_tokens()

    def revoke_token(self, name: str) -> int:
        """Revoke every active token called ``name``; raises ``TokenNotFound`` when there is none."""
        self.actor.require(Permission.TOKEN_ADMIN)
        check_token_name(name)
        with self.metadata.session(write=True) as session:
            now = self._now()
            count = session.revoke_tokens(name, at=now, actor=self.actor.name)
            if count == 0:
                raise TokenNotFound(f"no active token named {name!r}")
            self._audit(session, now, "registry:token:revoke", None, f"token:{name}", revoked=count)
        return count

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


def _loads(text: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(text)
    return document
