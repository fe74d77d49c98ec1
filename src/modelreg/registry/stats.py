"""Storage statistics: how much model content the registry holds, and how much deduplication saves.

    logical bytes   Σ sizes of the versions whose content is kept: what pulling each of them would write
    physical bytes  each distinct chunk those versions reference, counted once: what the chunk store holds
    dedup ratio     logical / physical

Soft-deleted versions count (a delete is soft: their files and chunks stay until a purge); purged versions do
not (``metadata/stats.py`` holds that rule). Chunks no version references (uploads not yet committed, garbage
awaiting collection) are not counted: ``modelreg gc`` reports those.

Per model, physical bytes are the model's distinct chunks; the total counts each chunk once across models,
so a chunk two models share appears in both rows and once in the total.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelreg.access import Permission
from modelreg.errors import ModelNotFound
from modelreg.registry.names import check_model_name
from modelreg.types import ModelStorage, StorageStats

if TYPE_CHECKING:
    from modelreg.registry.service import Registry

__all__ = ["dedup_ratio", "storage_stats"]


def storage_stats(registry: Registry, name: str | None = None) -> StorageStats:
    """Every model the caller may read (filtered in SQL for a caller with pattern-scoped grants), or only
    ``name``; the total then covers the models shown."""
    if name is not None:
        registry.actor.require(Permission.MODEL_READ, model=name)
        check_model_name(name)
    registry.actor.require_somewhere(Permission.MODEL_READ)
    visible = registry.actor.scope(Permission.MODEL_READ)
    with registry.metadata.session() as session:  # one snapshot for the rows and the total
        rows = session.storage_usage(name, visible=visible)
        if name is not None and not rows:
            raise ModelNotFound(f"model {name!r} not found")
        physical, chunks = session.storage_total(name, visible=visible)
    usage = tuple(
        ModelStorage(model, versions, deleted, logical, stored, count, dedup_ratio(logical, stored))
        for model, versions, deleted, logical, stored, count in rows
    )
    logical = sum(row.logical_bytes for row in usage)
    return StorageStats(
        models=usage,
        versions=sum(row.versions for row in usage),
        logical_bytes=logical,
        physical_bytes=physical,
        chunks=chunks,
        dedup_ratio=dedup_ratio(logical, physical),
    )


def dedup_ratio(logical: int, physical: int) -> float:
    """logical / physical, rounded to 3 places; 1.0 when nothing is stored (no saving to speak of)."""
    return round(logical / physical, 3) if physical else 1.0
