"""Public result types: what every SDK call returns, embedded or over HTTP.

Frozen dataclasses with plain values (str, int, float, datetime in UTC) so they pickle, compare and serialise
the same way on both SDK implementations. ``to_dict`` gives the JSON shape used by the API and ``--json``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

__all__ = [
    "STAGES",
    "AliasChange",
    "Dataset",
    "FileEntry",
    "GcReport",
    "Lineage",
    "Model",
    "ModelVersion",
    "Page",
    "PullResult",
    "PushStats",
    "Stage",
    "StageChange",
    "Token",
]

Stage = Literal["none", "staging", "production", "archived"]
STAGES: tuple[Stage, ...] = ("none", "staging", "production", "archived")

T = TypeVar("T")


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _time(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


class _Serialisable:
    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = _jsonable(dataclasses.asdict(self))  # type: ignore[call-overload]
        return result

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Any:
        """The inverse of ``to_dict``, for the HTTP SDK: times parsed, nested records rebuilt."""
        fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        values = {key: data[key] for key in fields if key in data}
        for key in _TIME_FIELDS & values.keys():
            values[key] = _time(values[key])
        return cls(**_nested(cls.__name__, values))


_TIME_FIELDS = {"created_at", "updated_at", "since", "until", "expires_at", "revoked_at"}


def _nested(kind: str, values: dict[str, Any]) -> dict[str, Any]:
    if kind == "ModelVersion":
        values["files"] = tuple(FileEntry(**entry) for entry in values.get("files", ()))
        values["lineage"] = Lineage.from_dict(values.get("lineage") or {})
        values["aliases"] = tuple(values.get("aliases", ()))
    elif kind == "Lineage":
        values["datasets"] = tuple(Dataset(**entry) for entry in values.get("datasets", ()))
        values["parents"] = tuple(values.get("parents", ()))
    elif kind == "PullResult":
        values["version"] = ModelVersion.from_dict(values["version"])
    return values


@dataclass(frozen=True, slots=True)
class FileEntry(_Serialisable):
    """One file of a version, as listed in its manifest."""

    path: str  # relative, '/'-separated, normalised
    size: int
    digest: str  # sha256 of the whole file: 'sha256:<hex>'


@dataclass(frozen=True, slots=True)
class Dataset(_Serialisable):
    name: str
    uri: str | None = None
    digest: str | None = None
    role: str | None = None


@dataclass(frozen=True, slots=True)
class Lineage(_Serialisable):
    """Where a version came from. ``parents`` are references resolved at push time ('name/3')."""

    run_id: str | None = None
    code: dict[str, str] = field(default_factory=dict)
    datasets: tuple[Dataset, ...] = ()
    parents: tuple[str, ...] = ()
    environment: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Model(_Serialisable):
    name: str
    description: str
    tags: dict[str, str]
    created_at: datetime
    created_by: str
    updated_at: datetime
    latest_version: int | None  # highest live (not deleted) version number
    aliases: dict[str, int]  # alias → version number


@dataclass(frozen=True, slots=True)
class ModelVersion(_Serialisable):
    name: str
    version: int
    digest: str  # sha256 of the canonical manifest: the name a deployment pins
    files: tuple[FileEntry, ...]
    size_bytes: int
    metrics: dict[str, float]
    params: dict[str, str]
    tags: dict[str, str]
    description: str
    signature: dict[str, Any] | None
    lineage: Lineage
    stage: Stage
    aliases: tuple[str, ...]
    created_at: datetime
    created_by: str
    updated_at: datetime
    deleted: bool = False

    @property
    def ref(self) -> str:
        """The pinned reference 'name/N'."""
        return f"{self.name}/{self.version}"


@dataclass(frozen=True, slots=True)
class AliasChange(_Serialisable):
    """One interval during which ``alias`` pointed at ``version``; ``until`` is None while it still does."""

    name: str
    alias: str
    version: int
    since: datetime
    until: datetime | None
    set_by: str
    ended_by: str | None


@dataclass(frozen=True, slots=True)
class StageChange(_Serialisable):
    name: str
    version: int
    stage: Stage
    since: datetime
    until: datetime | None
    set_by: str
    ended_by: str | None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing. Pass ``next_page_token`` back to get the next page; None on the last one."""

    items: list[T]
    next_page_token: str | None

    def __iter__(self):  # type: ignore[no-untyped-def]  # iterating a page yields its items
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


@dataclass(frozen=True, slots=True)
class PushStats(_Serialisable):
    """What a push moved: bytes hashed locally, bytes that were new to the store, and how long it took."""

    files: int
    bytes_total: int
    bytes_hashed: int
    bytes_stored: int
    chunks_total: int
    chunks_stored: int
    seconds: float


@dataclass(frozen=True, slots=True)
class PullResult(_Serialisable):
    path: str
    version: ModelVersion
    bytes_total: int
    bytes_fetched: int  # read from the chunk store; the rest came from the local cache
    seconds: float


@dataclass(frozen=True, slots=True)
class Token(_Serialisable):
    """An API token's record. The secret itself is never stored: only its sha256."""

    id: int
    name: str
    role: str
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    revoked_at: datetime | None
    secret: str | None = None  # set only in the result of create_token, the one time it is shown

    @property
    def actor(self) -> str:
        return f"token:{self.name}"


@dataclass(frozen=True, slots=True)
class GcReport(_Serialisable):
    """What a garbage collection of the chunk store found and, when ``applied``, deleted.

    Every stored chunk is either ``referenced`` by a version, ``protected`` (unreferenced, but a client was
    told in the last ``grace_seconds`` that it is present, or it was written less than that long ago: an
    upload in flight), or ``reclaimable``. ``missing_chunks`` counts chunks a version references that the
    store lacks: lost data, which should always be 0. Bytes are stored chunk sizes. ``mark_seconds`` covers
    listing the store and deciding; ``sweep_seconds`` the deletions (0 on a dry run).
    """

    applied: bool
    grace_seconds: float
    scanned_chunks: int
    referenced_chunks: int
    protected_chunks: int
    reclaimable_chunks: int
    reclaimable_bytes: int
    deleted_chunks: int
    deleted_bytes: int
    missing_chunks: int
    mark_seconds: float
    sweep_seconds: float
