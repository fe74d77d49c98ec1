"""The read half of a metadata session: lookups and the assembly of public result types.

Versions are assembled in batches (the rows, then every child row of the whole page in one ``UNION ALL``:
``metadata.statements``), so listing 1,000 versions costs two queries, as does one version.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, func, select

from modelreg.metadata import statements as sql
from modelreg.metadata.history import audit_record
from modelreg.metadata.protocol import AuditRecord, VersionKey
from modelreg.metadata.tables import (
    alias_history,
    aliases,
    audit_events,
    file_chunks,
    files,
    idempotency_keys,
    models,
    stage_history,
    version_files,
    versions,
)
from modelreg.types import AliasChange, Dataset, FileEntry, Lineage, Model, ModelVersion, StageChange

__all__ = ["Reads"]


class Reads:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    # Version lookups (prebuilt statements: see ``metadata.statements``) ------------------------------------
    def _key(self, statement: Any, **values: Any) -> VersionKey | None:
        row = self._c.execute(statement, values).first()
        return None if row is None else _key_of(row)

    def version_key(self, name: str, number: int) -> VersionKey | None:
        return self._key(sql.NUMBER_KEY, name=name, number=number)

    def latest_key(self, name: str) -> VersionKey | None:
        return self._key(sql.LATEST_KEY, name=name)

    def digest_key(self, name: str, digest: str) -> VersionKey | None:
        return self._key(sql.LATEST_KEY_WITH_DIGEST, name=name, digest=digest)

    def alias_key(self, name: str, alias: str) -> VersionKey | None:
        return self._key(sql.ALIAS_KEY, name=name, alias=alias)

    def aliases_of(self, version_id: int) -> list[str]:
        query = select(aliases.c.alias).where(aliases.c.version_id == version_id).order_by(aliases.c.alias)
        return list(self._c.execute(query).scalars())

    def version_chunk_sizes(self, version_id: int, digests: Sequence[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for start in range(0, len(digests), 500):  # stay under bound-parameter limits
            batch = list(digests[start : start + 500])
            query = (
                select(file_chunks.c.chunk_digest, file_chunks.c.size)
                .join(version_files, version_files.c.file_digest == file_chunks.c.file_digest)
                .where(version_files.c.version_id == version_id, file_chunks.c.chunk_digest.in_(batch))
                .distinct()
            )
            found.update({row[0]: row[1] for row in self._c.execute(query)})
        return found

    def manifest_json(self, version_id: int) -> str:
        manifest: str = self._c.execute(
            select(versions.c.manifest).where(versions.c.id == version_id)
        ).scalar_one()
        return manifest

    def known_files(self, digests: Sequence[str]) -> dict[str, str]:
        result: dict[str, str] = {}
        for start in range(0, len(digests), 500):  # stay under bound-parameter limits
            batch = list(digests[start : start + 500])
            rows = self._c.execute(select(files.c.digest, files.c.chunks).where(files.c.digest.in_(batch)))
            result.update({row[0]: row[1] for row in rows})
        return result

    def idempotent_result(self, key: str, *, since: datetime) -> tuple[str, int] | None:
        query = select(idempotency_keys.c.request_digest, idempotency_keys.c.version_id).where(
            idempotency_keys.c.key == key, idempotency_keys.c.created_at >= since
        )
        row = self._c.execute(query).first()
        return None if row is None else (row[0], row[1])

    # Versions -------------------------------------------------------------------------------------
    def version(self, version_id: int) -> ModelVersion:
        return self.versions([version_id])[0]

    def latest_per_stage(self, names: Sequence[str], stages: Sequence[str]) -> list[int]:
        if not names or not stages:
            return []
        rank = (
            func.row_number()
            .over(partition_by=(versions.c.model_id, versions.c.stage), order_by=versions.c.number.desc())
            .label("rank")
        )
        ranked = (
            select(versions.c.id, rank)
            .select_from(versions.join(models, versions.c.model_id == models.c.id))
            .where(
                models.c.name.in_(list(names)),
                models.c.deleted_at.is_(None),
                versions.c.deleted_at.is_(None),
                versions.c.stage.in_(list(stages)),
            )
            .subquery()
        )
        return list(self._c.execute(select(ranked.c.id).where(ranked.c.rank == 1)).scalars())

    def versions(self, version_ids: Sequence[int]) -> list[ModelVersion]:
        """Whole versions in two statements, whatever their number: the rows, then all their child rows."""
        if not version_ids:
            return []
        ids = list(version_ids)
        values: dict[str, Any]
        if len(ids) == 1:  # "=": an expanding IN is re-rendered for every call
            rows_query, children_query, values = sql.VERSION_ROW, sql.CHILDREN_OF_ONE, {"id": ids[0]}
        else:
            rows_query, children_query, values = sql.VERSION_ROWS, sql.CHILDREN_OF_PAGE, {"ids": ids}
        rows = {row.id: row for row in self._c.execute(rows_query, values)}
        children: dict[int, _Children] = defaultdict(_Children)
        for kind, version_id, name, text, number, size in self._c.execute(children_query, values):
            children[version_id].add(kind, name, text, number, size)
        return [_version(rows[i], children[i]) for i in ids if i in rows]

    def list_versions(self, model_id: int, *, include_deleted: bool, limit: int, offset: int) -> list[int]:
        query = select(versions.c.id).where(versions.c.model_id == model_id)
        if not include_deleted:
            query = query.where(versions.c.deleted_at.is_(None))
        query = query.order_by(versions.c.number.desc()).limit(limit).offset(offset)
        return list(self._c.execute(query).scalars())

    # Models ---------------------------------------------------------------------------------------
    def model(self, name: str) -> Model | None:
        """The live model of that name (a deleted one is not found: its name is free to create again)."""
        query = select(models.c.id).where(models.c.name == name, models.c.deleted_at.is_(None))
        model_id = self._c.execute(query).scalar()
        return None if model_id is None else self.models_by_id([model_id])[0]

    def list_models(self, *, limit: int, offset: int) -> list[Model]:
        live = select(models.c.id).where(models.c.deleted_at.is_(None))
        query = live.order_by(models.c.name).limit(limit).offset(offset)
        return self.models_by_id(list(self._c.execute(query).scalars()))

    def models_by_id(self, ids: list[int]) -> list[Model]:
        if not ids:
            return []
        bound = {"ids": ids}
        rows = {row.id: row for row in self._c.execute(sql.MODEL_ROWS, bound)}
        tags: dict[int, dict[str, str]] = defaultdict(dict)
        for model_id, key, value in self._c.execute(sql.MODEL_TAGS, bound):
            tags[model_id][key] = value
        alias_map: dict[int, dict[str, int]] = defaultdict(dict)
        for model_id, alias, number in self._c.execute(sql.MODEL_ALIASES, bound):
            alias_map[model_id][alias] = number
        return [_model(rows[i], tags[i], alias_map[i]) for i in ids if i in rows]

    # History --------------------------------------------------------------------------------------
    def alias_history(self, model_id: int, alias: str) -> list[AliasChange]:
        query = (
            select(alias_history, versions.c.number, models.c.name)
            .join(versions, versions.c.id == alias_history.c.version_id)
            .join(models, models.c.id == alias_history.c.model_id)
            .where(alias_history.c.model_id == model_id, alias_history.c.alias == alias)
            .order_by(alias_history.c.valid_from, alias_history.c.id)
        )
        return [
            AliasChange(
                name=row.name,
                alias=row.alias,
                version=row.number,
                since=row.valid_from,
                until=row.valid_to,
                set_by=row.set_by,
                ended_by=row.ended_by,
                request_id=row.request_id,
            )
            for row in self._c.execute(query)
        ]

    def alias_since(self, model_id: int, alias: str) -> datetime | None:
        query = select(alias_history.c.valid_from).where(
            alias_history.c.model_id == model_id,
            alias_history.c.alias == alias,
            alias_history.c.valid_to.is_(None),
        )
        return self._c.execute(query).scalar()

    def stage_since(self, version_id: int) -> datetime | None:
        query = select(stage_history.c.valid_from).where(
            stage_history.c.version_id == version_id, stage_history.c.valid_to.is_(None)
        )
        return self._c.execute(query).scalar()

    def stage_history(self, version_id: int) -> list[StageChange]:
        query = (
            select(stage_history, versions.c.number, models.c.name)
            .join(versions, versions.c.id == stage_history.c.version_id)
            .join(models, models.c.id == versions.c.model_id)
            .where(stage_history.c.version_id == version_id)
            .order_by(stage_history.c.valid_from, stage_history.c.id)
        )
        return [
            StageChange(
                name=row.name,
                version=row.number,
                stage=row.stage,
                since=row.valid_from,
                until=row.valid_to,
                set_by=row.set_by,
                ended_by=row.ended_by,
                request_id=row.request_id,
            )
            for row in self._c.execute(query)
        ]

    def audit_events(self, *, after: int = 0, limit: int = 1000) -> list[AuditRecord]:
        query = (
            select(audit_events).where(audit_events.c.seq > after).order_by(audit_events.c.seq).limit(limit)
        )
        return [audit_record(row) for row in self._c.execute(query)]


def _key_of(row: Row[Any, Any, Any, Any, Any]) -> VersionKey:
    return VersionKey(row[0], row[1], row[2], row[3] is not None, row[4] is not None)


def _model(row: Row[Any], tags: dict[str, str], alias_map: dict[str, int]) -> Model:
    return Model(
        name=row.name,
        description=row.description,
        tags=dict(tags),
        created_at=row.created_at,
        created_by=row.created_by,
        updated_at=row.updated_at,
        latest_version=row.latest,
        aliases=dict(alias_map),
    )


class _Children:
    """A version's child rows from the ``UNION ALL`` (``statements.CHILDREN_*``), sorted by name there."""

    __slots__ = ("aliases", "files", "metrics", "params", "tags")

    def __init__(self) -> None:
        self.metrics: dict[str, float] = {}
        self.params: dict[str, str] = {}
        self.tags: dict[str, str] = {}
        self.files: list[FileEntry] = []
        self.aliases: list[str] = []

    def add(self, kind: int, name: str, text: str | None, number: float | None, size: int | None) -> None:
        if kind == sql.METRIC:
            self.metrics[name] = float(number)  # type: ignore[arg-type]  # NOT NULL for metrics
        elif kind == sql.PARAM:
            self.params[name] = text  # type: ignore[assignment]  # NOT NULL for params
        elif kind == sql.TAG:
            self.tags[name] = text  # type: ignore[assignment]  # NOT NULL for tags
        elif kind == sql.FILE:
            self.files.append(FileEntry(path=name, size=size, digest=text))  # type: ignore[arg-type]
        else:
            self.aliases.append(name)


def _version(row: Row[Any], children: _Children) -> ModelVersion:
    lineage = json.loads(row.lineage)
    return ModelVersion(
        name=row.model_name,
        version=row.number,
        digest=row.digest,
        files=tuple(children.files),
        size_bytes=row.size_bytes,
        metrics=children.metrics,
        params=children.params,
        tags=children.tags,
        description=row.description,
        signature=json.loads(row.signature) if row.signature else None,
        lineage=Lineage(
            run_id=lineage.get("run_id"),
            code=lineage.get("code", {}),
            datasets=tuple(Dataset(**d) for d in lineage.get("datasets", ())),
            parents=tuple(lineage.get("parents", ())),
            environment=lineage.get("environment", {}),
        ),
        stage=row.stage,
        aliases=tuple(children.aliases),
        created_at=row.created_at,
        created_by=row.created_by,
        updated_at=row.updated_at,
        deleted=row.deleted_at is not None,
        purged=row.purged_at is not None,
        purged_at=row.purged_at,
    )
