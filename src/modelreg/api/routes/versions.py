"""Versions: list, commit, read, describe, stage, tag, delete."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response

from modelreg.api.auth import CallerRegistry
from modelreg.api.params import ModelName, TagKey, VersionRef
from modelreg.api.responses import ERRORS, answers, items, one, page
from modelreg.api.schemas import (
    CommitBody,
    CommittedVersion,
    DescriptionBody,
    StageBody,
    StageHistory,
    TagBody,
    VersionPage,
)
from modelreg.registry.manifest import Manifest
from modelreg.types import ModelVersion

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/models/{name}/versions", tags=["versions"], responses=ERRORS)

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description=(
            "A retried commit with the same key returns the first result instead of a new version; "
            "keys are remembered for 24 hours."
        ),
    ),
]


@router.get("", **answers(VersionPage))
def list_versions(
    registry: CallerRegistry,
    name: ModelName,
    include_deleted: Annotated[bool, Query(description="Include soft-deleted versions.")] = False,
    limit: Annotated[int, Query(description="Page size, 1-1000.")] = 100,
    page_token: Annotated[str | None, Query(description="next_page_token of the previous page.")] = None,
) -> Response:
    """List a model's versions, newest first."""
    return page(
        registry.list_versions(name, include_deleted=include_deleted, limit=limit, page_token=page_token)
    )


@router.post("", **answers(CommittedVersion, 201, "The new version (or, for a retried key, the first one)."))
def commit_version(
    registry: CallerRegistry, name: ModelName, body: CommitBody, idempotency_key: IdempotencyKey = None
) -> Response:
    """Register a version whose chunks are all stored: one transaction, all or nothing.

    404 CHUNK_NOT_FOUND (details.missing) when a referenced chunk is not stored; nothing is created then.
    The answer is the version plus `bytes_new` (distinct chunks no committed version held before) and
    `bytes_deduplicated` (the rest of its bytes), with the matching chunk counts.
    """
    manifest = Manifest.from_json(_manifest_document(body))
    report = registry.commit(
        name,
        manifest,
        metrics=body.metrics,
        params=body.params,
        tags=body.tags,
        description=body.description,
        lineage=body.lineage,
        signature=body.signature,
        aliases=body.aliases,
        idempotency_key=idempotency_key,
        version=body.version,
    )
    return one(report, 201)


@router.get("/{ref}", **answers(ModelVersion))
def get_version(registry: CallerRegistry, ref: VersionRef) -> Response:
    """One version: digest, files, metadata, lineage, stage, aliases."""
    return one(registry.get_version(ref))


@router.get("/{ref}/resolve", **answers(ModelVersion))
def resolve_version(
    registry: CallerRegistry,
    ref: VersionRef,
    at: Annotated[
        str | None,
        Query(description="ISO 8601 time with a timezone, e.g. 2026-03-01T12:00:00Z; default: now."),
    ] = None,
) -> Response:
    """The version the selector named at instant `at`, from the alias and stage history. After '@' a stage
    name (staging, production, archived) stands for the stage when the model has no alias of that name."""
    return one(registry.resolve(ref, at=at))


@router.patch("/{ref}", **answers(ModelVersion))
def describe_version(registry: CallerRegistry, ref: VersionRef, body: DescriptionBody) -> Response:
    """Replace a version's description (audited)."""
    pinned = _pin(registry.get_version(ref))
    registry.update_description(pinned, body.description)
    return one(registry.get_version(pinned))


@router.delete("/{ref}", **answers(ModelVersion, description="The version, now soft-deleted."))
def delete_version(registry: CallerRegistry, ref: VersionRef) -> Response:
    """Soft-delete a version: its number is never reused; aliases on it are removed."""
    return one(registry.delete_version(ref))


@router.put("/{ref}/stage", **answers(ModelVersion))
def set_stage(registry: CallerRegistry, ref: VersionRef, body: StageBody) -> Response:
    """Move a version to none, staging, production or archived (audited)."""
    return one(registry.set_stage(ref, body.stage))


@router.get("/{ref}/stages", **answers(StageHistory))
def stage_history(registry: CallerRegistry, ref: VersionRef) -> Response:
    """Every stage the version has been in, oldest first."""
    return items(registry.stage_history(ref))


@router.put("/{ref}/tags/{key:path}", **answers(ModelVersion))
def set_version_tag(registry: CallerRegistry, ref: VersionRef, key: TagKey, body: TagBody) -> Response:
    """Set one tag of a version (audited)."""
    pinned = _pin(registry.get_version(ref))
    registry.set_tag(pinned, key, body.value)
    return one(registry.get_version(pinned))


@router.delete("/{ref}/tags/{key:path}", status_code=204, response_class=Response)
def delete_version_tag(registry: CallerRegistry, ref: VersionRef, key: TagKey) -> Response:
    """Remove one tag of a version (audited); 404 TAG_NOT_FOUND when it is not set."""
    registry.delete_tag(ref, key)
    return Response(status_code=204)


def _pin(version: ModelVersion) -> str:
    """'name/N': an alias may move between the change and the read that reports it."""
    return version.ref


def _manifest_document(body: CommitBody) -> dict[str, Any]:
    return {"schema": body.manifest.schema_, "files": [file.model_dump() for file in body.manifest.files]}
