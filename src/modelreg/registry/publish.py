"""Publishing a version: validate everything, check every chunk is stored, then commit in one transaction.

The order matters for invariant 1 (a version is fully there or not at all): validation and the chunk-store
checks happen before the transaction; inside it, the model row is locked, the number allocated, the version,
its metadata, aliases and audit event written, and all of it commits together. Last, with the audit chain's
lock held, ``collection.check_commit`` makes sure no garbage collection took a chunk since the store check.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from modelreg.access import Permission
from modelreg.digest import Digest, sha256_bytes
from modelreg.errors import (
    ChunkNotFound,
    DigestMismatch,
    EmptyModel,
    IdempotencyKeyReused,
    InvalidInput,
    VersionDeleted,
)
from modelreg.metadata.protocol import MetadataSession, NewFile, NewVersion
from modelreg.registry import audit, collection
from modelreg.registry.lineage import check_lineage, check_signature
from modelreg.registry.manifest import FileRecord, Manifest, canonical_json
from modelreg.registry.names import (
    MAX_PARAM_VALUE,
    MAX_TAG_VALUE,
    check_alias,
    check_description,
    check_metrics,
    check_model_name,
    check_strings,
)
from modelreg.registry.refs import MAX_VERSION, parse_ref
from modelreg.types import CommitReport, Lineage

if TYPE_CHECKING:
    from modelreg.registry.service import Registry

__all__ = ["Publication"]

# Printable ASCII, so the same keys work as HTTP header values and embedded.
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,128}")
# How long a key is remembered: a retry within a day returns the first result; after that the key is
# forgotten (later keyed commits delete expired keys in batches) and a commit with it is a new request.
IDEMPOTENCY_KEY_SECONDS = 24 * 3600
_FIGURES = ("chunks_new", "bytes_new", "chunks_deduplicated", "bytes_deduplicated")


@dataclass(frozen=True, slots=True)
class Publication:
    registry: Registry
    name: str
    manifest: Manifest
    metrics: dict[str, float]
    params: dict[str, str]
    tags: dict[str, str]
    description: str
    lineage: Lineage
    signature: dict[str, Any] | None
    aliases: tuple[str, ...]
    idempotency_key: str | None
    version: int | None = None  # an explicit number (imports); None: the next one

    @classmethod
    def prepare(
        cls,
        registry: Registry,
        name: str,
        manifest: Manifest,
        *,
        metrics: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        tags: dict[str, Any] | None = None,
        description: str = "",
        lineage: Any = None,
        signature: Any = None,
        aliases: list[str] | tuple[str, ...] | None = None,
        idempotency_key: str | None = None,
        version: int | None = None,
    ) -> Publication:
        """Validate every input; raises an ``InvalidInput`` subclass before anything is stored.

        ``version``: register under this number instead of the next one (importing from another registry
        keeps its numbers); needs ``version:import``, and the commit refuses (``VersionExists``) a number
        that is not above every number the model has had."""
        if aliases:
            registry.actor.require(Permission.ALIAS_WRITE, model=name)
        if version is not None:
            registry.actor.require(Permission.VERSION_IMPORT, model=name)
            _check_number(version)
        if not manifest.files:
            raise EmptyModel(f"nothing to push for {name!r}: the version holds no files")
        if idempotency_key is not None and (
            not isinstance(idempotency_key, str) or not _IDEMPOTENCY_KEY.fullmatch(idempotency_key)
        ):
            raise InvalidInput(
                "invalid idempotency key: expected 1-128 printable ASCII characters, no spaces"
            )
        return cls(
            registry=registry,
            name=check_model_name(name),
            manifest=manifest,
            metrics=check_metrics(metrics),
            params=check_strings("param", params, max_value=MAX_PARAM_VALUE),
            tags=check_strings("tag", tags, max_value=MAX_TAG_VALUE),
            description=check_description(description),
            lineage=check_lineage(lineage),
            signature=check_signature(signature),
            aliases=tuple(dict.fromkeys(check_alias(alias) for alias in aliases or ())),
            idempotency_key=idempotency_key,
            version=version,
        )

    @staticmethod
    def chunks_of(chunks_json: str) -> list[tuple[str, int]]:
        return [(digest, size) for digest, size in json.loads(chunks_json)]

    @property
    def request_digest(self) -> str:
        """What the request asked for, so a reused Idempotency-Key with another body is refused."""
        body: dict[str, Any] = {
            "name": self.name,
            "manifest": self.manifest.digest,
            "metrics": self.metrics,
            "params": self.params,
            "tags": self.tags,
            "description": self.description,
            "lineage": self.lineage.to_dict(),
            "signature": self.signature,
            "aliases": list(self.aliases),
        }
        if self.version is not None:  # only then: the digests of keys remembered before imports existed stay
            body["version"] = self.version
        return sha256_bytes(canonical_json(body))

    def commit(self) -> CommitReport:
        replay = self._replay()
        if replay is not None:
            return replay
        # Read before the store is checked: a garbage collection recorded after it may have made the check
        # stale, which check_commit looks at once the chain's lock is held.
        contents, checked_after = self._new_contents()
        self._check_chunks_stored(contents)
        if self.registry.verify_file_digests:
            self._check_file_digests(contents)
        registry = self.registry
        with registry.metadata.session(write=True) as session:
            replay = self._replay(session)
            if replay is not None:
                return replay
            model_id, created = session.ensure_model(self.name, at=registry._now(), actor=registry.actor.name)
            # Read after the model lock, so one model's versions and alias intervals are in time order.
            now = registry._now(*(session.alias_since(model_id, alias) for alias in self.aliases))
            parent_ids = self._parent_ids(session)
            figures = self._storage_figures(session)
            number = session.allocate_version(model_id, self.version)
            imported = {} if self.version is None else {"imported": True}
            version_id = session.insert_version(
                model_id, self._new_version(number, contents, parent_ids, now)
            )
            for alias in self.aliases:
                session.set_alias(model_id, alias, version_id, at=now, actor=registry.actor.name)
            if created:
                audit.record(
                    session,
                    at=now,
                    actor=registry.actor.name,
                    action="registry:model:create",
                    model=self.name,
                    target=self.name,
                    data={},
                )
            audit.record(
                session,
                at=now,
                actor=registry.actor.name,
                action="registry:version:create",
                model=self.name,
                target=f"{self.name}/{number}",
                data={"digest": self.manifest.digest, "aliases": list(self.aliases), **figures, **imported},
            )
            collection.check_commit(registry, session, self._chunk_digests, since=checked_after)
            if self.idempotency_key is not None:
                session.remember_idempotency(
                    self.idempotency_key,
                    self.request_digest,
                    version_id,
                    at=now,
                    forget_before=now - timedelta(seconds=IDEMPOTENCY_KEY_SECONDS),
                )
            return CommitReport(session.version(version_id), **figures)

    def _storage_figures(self, session: MetadataSession) -> dict[str, int]:
        """What this version adds to storage: its distinct chunks that no committed version references yet
        (one indexed query over the version's chunk set), and the rest of its bytes, deduplicated."""
        sizes = {chunk.digest: chunk.size for record in self.manifest.files for chunk in record.chunks}
        held = session.referenced_chunks(list(sizes)) if sizes else set()
        new = [digest for digest in sizes if digest not in held]
        bytes_new = sum(sizes[digest] for digest in new)
        return {
            "chunks_new": len(new),
            "bytes_new": bytes_new,
            "chunks_deduplicated": len(sizes) - len(new),
            "bytes_deduplicated": self.manifest.size - bytes_new,
        }

    def _replay(self, session: MetadataSession | None = None) -> CommitReport | None:
        """The version a previous attempt with the same Idempotency-Key created, if any."""
        if self.idempotency_key is None:
            return None
        if session is None:
            with self.registry.metadata.session() as read_session:
                return self._replay(read_session)
        since = self.registry._now() - timedelta(seconds=IDEMPOTENCY_KEY_SECONDS)
        remembered = session.idempotent_result(self.idempotency_key, since=since)
        if remembered is None:
            return None
        if remembered[0] != self.request_digest:
            raise IdempotencyKeyReused("this Idempotency-Key was already used for a different request")
        version = session.version(remembered[1])
        event = session.creation_event(version.name, version.ref)
        recorded = json.loads(event.data_json) if event is not None else {}
        figures = {key: int(recorded.get(key, 0)) for key in _FIGURES}
        return CommitReport(version, **figures)

    @property
    def _chunk_digests(self) -> set[Digest]:
        return {chunk.digest for record in self.manifest.files for chunk in record.chunks}

    def _new_contents(self) -> tuple[list[FileRecord], int]:
        """Files whose content the registry has not recorded yet (known ones must list the same chunks),
        and the audit chain's sequence number as of this read."""
        records: dict[str, FileRecord] = {record.digest: record for record in self.manifest.files}
        with self.registry.metadata.session() as session:
            seq = session.audit_seq()
            known = session.known_files(list(records))
        for digest, chunks_json in known.items():
            listed = [(chunk.digest, chunk.size) for chunk in records[digest].chunks]
            if listed != self.chunks_of(chunks_json):
                raise InvalidInput(
                    f"file {records[digest].path!r}: its chunk list differs from the stored content"
                )
        return [record for digest, record in records.items() if digest not in known], seq

    def _check_chunks_stored(self, contents: list[FileRecord]) -> None:
        """Every chunk the version references must be stored, known files' chunks included (a chunk lost
        since its file was first recorded must not yield a version that cannot be pulled); new chunks must
        also have the size the manifest says."""
        sizes = {chunk.digest: chunk.size for record in contents for chunk in record.chunks}
        direct = self.registry.direct
        # With direct transfers, clients wrote the new chunks themselves: verify_uploads checks each one's
        # presence, size and content in one go (registry/direct.py), so only the others are looked up here.
        listed = self._chunk_digests - sizes.keys() if direct is not None else self._chunk_digests
        missing = self.registry.chunks.missing(list(listed))
        if missing:
            raise ChunkNotFound(
                f"{len(missing)} chunk(s) referenced by the manifest are not stored; upload them first",
                details={"missing": sorted(missing)[:20]},
            )
        if direct is not None:
            direct.store.verify_uploads(sizes)
            return
        for digest, size in sizes.items():
            if self.registry.chunks.size(digest) != size:
                raise InvalidInput(
                    f"chunk {digest} is stored with another size than the manifest says ({size})"
                )

    def _check_file_digests(self, contents: list[FileRecord]) -> None:
        """Each new file's chunks, read back, must hash to its claimed digest (a damaged chunk is named by the
        store's ``DigestMismatch``, not taken for a false digest).

        A file of one chunk is that chunk's bytes, so its digest must be the chunk's: the comparison is the
        whole check, and a model's small files (configs, tokenizers) cost no read. That the stored bytes match
        their digest was checked when they were stored (``put`` re-hashes; a direct upload is checked by
        ``verify_uploads``), as for every chunk a commit reuses, and every pull checks it again."""
        for record in contents:
            if len(record.chunks) == 1:
                actual = record.chunks[0].digest
            else:
                actual = self._file_digest(record, verify=False)
                if actual != record.digest:  # a false digest, or a damaged chunk: reading again tells which
                    actual = self._file_digest(record, verify=True)
            if actual != record.digest:
                raise DigestMismatch(
                    f"file {record.path!r}: its chunks hash to {actual}, not to the claimed {record.digest}",
                    details={"path": record.path},
                )

    def _file_digest(self, record: FileRecord, *, verify: bool) -> Digest:
        """The sha256 of the file's chunks as stored. Without ``verify`` no chunk is hashed on its own: the
        whole-file digest covers their bytes (a damaged chunk changes it), and each chunk was verified when
        it was stored, so hashing it again on the way would be a second pass over every byte for nothing."""
        hasher = hashlib.sha256()
        for chunk in record.chunks:
            hasher.update(self.registry.chunks.get(chunk.digest, verify=verify))
        return Digest("sha256:" + hasher.hexdigest())

    def _parent_ids(self, session: MetadataSession) -> list[int]:
        ids = []
        for text in self.lineage.parents:
            ref = parse_ref(text)
            key = self.registry._key(session, ref)
            if key.deleted:
                raise VersionDeleted(f"parent {text!r} is a deleted version")
            ids.append(key.version_id)
        return ids

    def _new_version(
        self, number: int, contents: list[FileRecord], parents: list[int], now: Any
    ) -> NewVersion:
        manifest = self.manifest
        return NewVersion(
            number=number,
            digest=manifest.digest,
            manifest_json=manifest.canonical().decode(),
            size_bytes=manifest.size,
            files=[(record.path, record.digest, record.size) for record in manifest.files],
            contents=[
                NewFile(
                    record.digest,
                    record.size,
                    canonical_json([[c.digest, c.size] for c in record.chunks]).decode(),
                )
                for record in contents
            ],
            description=self.description,
            run_id=self.lineage.run_id,
            lineage_json=canonical_json(self.lineage.to_dict()).decode(),
            signature_json=None if self.signature is None else canonical_json(self.signature).decode(),
            metrics=self.metrics,
            params=self.params,
            tags=self.tags,
            datasets=self.lineage.datasets,
            parent_ids=parents,
            created_at=now,
            created_by=self.registry.actor.name,
        )


def _check_number(version: object) -> None:
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= MAX_VERSION:
        raise InvalidInput(
            f"invalid version {str(version)[:40]!r}: expected an integer from 1 to {MAX_VERSION}"
        )
