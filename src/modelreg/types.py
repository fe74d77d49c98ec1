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
    "Approval",
    "ArtifactEntry",
    "AuditEvent",
    "AuditVerification",
    "CommitReport",
    "Dataset",
    "Deployment",
    "Experiment",
    "FileEntry",
    "GcReport",
    "Group",
    "LegalHold",
    "Lineage",
    "LoggedModel",
    "Metric",
    "MigrationReport",
    "Model",
    "ModelStorage",
    "ModelVersion",
    "Page",
    "PolicyDocument",
    "Promotion",
    "PullResult",
    "PushStats",
    "RetentionCandidate",
    "RetentionPolicy",
    "RetentionReport",
    "RoleBinding",
    "Run",
    "RunInput",
    "Stage",
    "StageChange",
    "StorageStats",
    "TableCount",
    "Token",
    "User",
]

Stage = Literal["none", "staging", "production", "archived"]
STAGES: tuple[Stage, ...] = ("none", "staging", "production", "archived")

T = TypeVar("T")


_LEAVES = (str, int, float, bool, type(None))
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _jsonable(value: Any) -> Any:
    """JSON-ready copy in one pass: ``dataclasses.asdict`` deep-copies first and was then walked again
    (~0.3 ms of a version's ~0.5 ms ``get_version`` over HTTP). Containers are new; leaves are immutable."""
    if isinstance(value, _LEAVES):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    names = _FIELD_NAMES.get(type(value))
    if names is None:
        if not dataclasses.is_dataclass(value) or isinstance(value, type):
            return value
        names = _FIELD_NAMES.setdefault(type(value), tuple(f.name for f in dataclasses.fields(value)))
    return {name: _jsonable(getattr(value, name)) for name in names}


def _time(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


class _Serialisable:
    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = _jsonable(self)
        return result

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Any:
        """The inverse of ``to_dict``, for the HTTP SDK: times parsed, nested records rebuilt."""
        fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        values = {key: data[key] for key in fields if key in data}
        for key in _TIME_FIELDS & values.keys():
            values[key] = _time(values[key])
        return cls(**_nested(cls.__name__, values))


_TIME_FIELDS = {
    "at",
    "created_at",
    "ended_at",
    "expires_at",
    "purged_at",
    "requested_at",
    "closed_at",
    "revoked_at",
    "since",
    "started_at",
    "until",
    "updated_at",
}


def _nested(kind: str, values: dict[str, Any]) -> dict[str, Any]:
    if kind == "ModelVersion":
        values["files"] = tuple(FileEntry(**entry) for entry in values.get("files", ()))
        values["lineage"] = Lineage.from_dict(values.get("lineage") or {})
        values["aliases"] = tuple(values.get("aliases", ()))
    elif kind == "Lineage":
        values["datasets"] = tuple(Dataset(**entry) for entry in values.get("datasets", ()))
        values["parents"] = tuple(values.get("parents", ()))
    elif kind == "Deployment":
        values["lineage"] = Lineage.from_dict(values.get("lineage") or {})
    elif kind == "Promotion":
        values["approvals"] = tuple(Approval.from_dict(entry) for entry in values.get("approvals", ()))
    elif kind == "PullResult":
        values["version"] = ModelVersion.from_dict(values["version"])
    elif kind in ("User", "Group"):
        key = "groups" if kind == "User" else "members"
        values[key] = tuple(values.get(key, ()))
    elif kind == "PolicyDocument":
        values["protected_aliases"] = tuple(values.get("protected_aliases", ()))
    elif kind == "StorageStats":
        values["models"] = tuple(ModelStorage.from_dict(entry) for entry in values.get("models", ()))
    elif kind == "RetentionCandidate":
        values["rules"] = tuple(values.get("rules", ()))
        values["protected_by"] = tuple(values.get("protected_by", ()))
    elif kind == "RetentionReport":
        for key in ("purge", "protected"):
            values[key] = tuple(RetentionCandidate.from_dict(entry) for entry in values.get(key, ()))
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
    purged: bool = False  # its files were purged: metadata, lineage and history stay; pulls fail
    purged_at: datetime | None = None

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
    request_id: int | None = None  # the promotion request that approved this move (None: a direct move)


@dataclass(frozen=True, slots=True)
class StageChange(_Serialisable):
    name: str
    version: int
    stage: Stage
    since: datetime
    until: datetime | None
    set_by: str
    ended_by: str | None
    request_id: int | None = None  # the promotion request that approved this move (None: a direct move)


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
    # What the registry found at commit: bytes of chunks no committed version held before (what this
    # version adds to storage) and the rest of the version's bytes (shared with earlier versions, or
    # repeated within this one). bytes_new + bytes_deduplicated = the version's size.
    bytes_new: int = 0
    bytes_deduplicated: int = 0


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
    user: str | None = None  # the user the token acts as (its audit name), or None: it acts as itself
    secret: str | None = None  # set only in the result of create_token, the one time it is shown

    @property
    def actor(self) -> str:
        return f"token:{self.name}"


@dataclass(frozen=True, slots=True)
class User(_Serialisable):
    """A registry user (principal ``user:NAME``): holds role bindings itself and through its groups."""

    name: str
    created_at: datetime
    created_by: str
    groups: tuple[str, ...] = ()  # group names, sorted


@dataclass(frozen=True, slots=True)
class Group(_Serialisable):
    """A group (principal ``group:NAME``); its members (``user:alice``, ``token:ci``) hold its bindings."""

    name: str
    created_at: datetime
    created_by: str
    members: tuple[str, ...] = ()  # member principals, sorted


@dataclass(frozen=True, slots=True)
class RoleBinding(_Serialisable):
    """``role`` held by ``principal`` on the models whose names match ``models`` (``*``: every model)."""

    principal: str
    role: str
    models: str
    created_at: datetime
    created_by: str


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


@dataclass(frozen=True, slots=True)
class LegalHold(_Serialisable):
    """A legal hold on one version: while it stands, the version can be neither purged nor deleted."""

    name: str
    version: int
    reason: str
    created_at: datetime
    created_by: str


@dataclass(frozen=True, slots=True)
class RetentionPolicy(_Serialisable):
    """Which versions retention may purge: those beyond the ``keep_last`` newest live versions, those
    archived more than ``archived_days`` days ago, and those deleted more than ``deleted_days`` days ago (a
    deleted model's versions included); any rule may be None: off. ``name`` None is the global policy; a
    model's own policy replaces it as a whole for that model."""

    name: str | None
    keep_last: int | None
    archived_days: int | None
    updated_at: datetime
    updated_by: str
    deleted_days: int | None = None  # last, with a default: what a server from before the rule answers


@dataclass(frozen=True, slots=True)
class RetentionCandidate(_Serialisable):
    """A version a retention rule selects: ``rules`` says which ("keep_last", "archived_days",
    "deleted_days"); ``protected_by`` why it is kept anyway ("alias:NAME", "production", "hold"), empty when
    it is purged."""

    name: str
    version: int
    rules: tuple[str, ...]
    protected_by: tuple[str, ...]
    size_bytes: int  # the version's logical size; what gc reclaims is what no other version shares


@dataclass(frozen=True, slots=True)
class RetentionReport(_Serialisable):
    """What applying retention purged (``applied``) or would purge (a dry run), and what it kept."""

    applied: bool
    purge: tuple[RetentionCandidate, ...]
    protected: tuple[RetentionCandidate, ...]


@dataclass(frozen=True, slots=True)
class CommitReport(_Serialisable):
    """A committed version and what its content added to storage, as the registry saw it at commit.

    ``chunks_new``/``bytes_new``: distinct chunks no committed version referenced before (the storage this
    version adds); ``bytes_deduplicated``: the rest of the version's bytes (``version.size_bytes -
    bytes_new``), content it shares with earlier versions or repeats within itself. Two concurrent commits of
    the same new content may both count it as new. A retried commit (same Idempotency-Key) reports the first
    commit's figures, recorded in its registry:version:create audit event.
    """

    version: ModelVersion
    chunks_new: int
    bytes_new: int
    chunks_deduplicated: int
    bytes_deduplicated: int

    def to_dict(self) -> dict[str, Any]:
        """The wire shape: the version's own fields, plus the four figures (a superset of a version)."""
        figures = {name: getattr(self, name) for name in _COMMIT_FIGURES}
        return {**self.version.to_dict(), **figures}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CommitReport:
        figures = {name: int(data.get(name) or 0) for name in _COMMIT_FIGURES}
        return cls(version=ModelVersion.from_dict(data), **figures)


_COMMIT_FIGURES = ("chunks_new", "bytes_new", "chunks_deduplicated", "bytes_deduplicated")


@dataclass(frozen=True, slots=True)
class ModelStorage(_Serialisable):
    """One model's storage: ``versions`` whose content is kept (soft-deleted ones included, as their files
    stay; purged ones not), their ``logical_bytes`` (Σ version sizes) and ``physical_bytes`` (each distinct
    chunk they reference once). ``dedup_ratio`` = logical / physical (1.0 when nothing is stored)."""

    name: str
    versions: int
    deleted_versions: int
    logical_bytes: int
    physical_bytes: int
    chunks: int
    dedup_ratio: float


@dataclass(frozen=True, slots=True)
class StorageStats(_Serialisable):
    """Per-model rows and the total over them. A chunk shared by two models counts in both rows but once in
    the total, so the rows' physical bytes may sum to more than ``physical_bytes``."""

    models: tuple[ModelStorage, ...]
    versions: int
    logical_bytes: int
    physical_bytes: int
    chunks: int
    dedup_ratio: float


@dataclass(frozen=True, slots=True)
class AuditEvent(_Serialisable):
    """One audit event, with the chain fields that let anyone recompute its hash (``registry.audit``):

        hash = sha256(prev_hash ‖ canonical JSON of {seq, at, actor, action, model, target, data})

    where ``data`` enters as its canonical JSON text. ``action`` is ``source:subject:action``
    (``registry:alias:set``); ``data`` holds before/after and details.
    """

    seq: int
    at: datetime
    actor: str
    action: str
    model: str | None
    target: str
    data: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class AuditVerification(_Serialisable):
    """The result of recomputing an audit chain. ``first_bad_seq`` is the first sequence number that is
    missing, altered or out of place (None when ``ok``); ``reason`` says which. ``head_seq``/``head_hash`` are
    the last verified event: the value an auditor stores elsewhere (or signs) to anchor the chain.
    ``gaps`` counts missing sequence ranges allowed in a filtered export."""

    ok: bool
    events: int
    first_bad_seq: int | None
    reason: str | None
    head_seq: int
    head_hash: str
    gaps: int = 0


@dataclass(frozen=True, slots=True)
class TableCount(_Serialisable):
    """One metadata table's rows in the source and the target of a migration (equal once it succeeded)."""

    table: str
    source_rows: int
    target_rows: int


@dataclass(frozen=True, slots=True)
class MigrationReport(_Serialisable):
    """What ``modelreg migrate`` copied and verified. ``problems`` is empty when the target was verified
    equal to the source: every table's rows, every version's manifest digest, every referenced chunk
    (present, right size, and with ``content_verified`` re-read and re-hashed) and the audit chain.

    ``chunks_copied``/``bytes_copied`` count this run's writes; chunks the target already held (a resumed
    run, a shared store) are in ``chunks_present``. ``rows_read`` counts the source rows this run read and
    wrote (rows already in the target are written again only if they differ).
    """

    source: str
    target: str
    tables: tuple[TableCount, ...]
    rows_read: int
    chunks_referenced: int
    chunks_present: int
    chunks_copied: int
    bytes_copied: int
    versions_verified: int
    audit_events: int
    content_verified: bool
    problems: tuple[str, ...]
    seconds: float


@dataclass(frozen=True, slots=True)
class Deployment(_Serialisable):
    """A version serving an environment (and endpoint) during ``[started_at, ended_at)``; ``ended_at`` is None
    while it still does. ``digest`` is what the deployment pinned; ``lineage`` says which run, code and
    datasets produced it."""

    id: int
    environment: str
    endpoint: str | None
    name: str
    version: int
    digest: str
    started_at: datetime
    started_by: str
    ended_at: datetime | None
    ended_by: str | None
    lineage: Lineage = field(default_factory=Lineage)

    @property
    def ref(self) -> str:
        return f"{self.name}/{self.version}"


@dataclass(frozen=True, slots=True)
class Approval(_Serialisable):
    """One approver's yes to a promotion request."""

    actor: str
    at: datetime
    comment: str


@dataclass(frozen=True, slots=True)
class Promotion(_Serialisable):
    """A request to move ``name/version`` to ``target`` (a stage, or '@alias'), and what became of it.

    ``status``: pending → applied | rejected | cancelled | expired (all final). A pending request whose
    ``expires_at`` has passed is reported as expired. ``kind`` is "rollback" for a request made by
    ``rollback``. ``closed_by``/``closed_comment`` say who applied, rejected or cancelled it, and why."""

    id: int
    name: str
    version: int
    target: str
    kind: str
    status: str
    requested_by: str
    requested_at: datetime
    comment: str
    expires_at: datetime
    approvals_required: int
    approvals: tuple[Approval, ...] = ()
    closed_at: datetime | None = None
    closed_by: str | None = None
    closed_comment: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.name}/{self.version}"


@dataclass(frozen=True, slots=True)
class PolicyDocument(_Serialisable):
    """The promotion policy in force: ``source`` is "file" (``MODELREG_POLICY_FILE``), "database" (set
    through ``set_policy``) or "default" (none: production and the protected aliases governed with 0
    approvals and no checks). ``text`` is the TOML source ('' for the default)."""

    source: str
    text: str
    protected_aliases: tuple[str, ...]
    rules: int
    updated_at: datetime | None = None
    updated_by: str | None = None


# MLflow tracking (registry/tracking.py, registry/artifacts.py). Times are int milliseconds since the epoch,
# MLflow's own unit, so the MLflow-compatible routes pass them through unchanged.


@dataclass(frozen=True, slots=True)
class Experiment(_Serialisable):
    """An MLflow experiment: a named group of runs and logged models. ``experiment_id`` is a decimal string;
    experiment "0", "Default", always exists."""

    experiment_id: str
    name: str
    artifact_location: str  # mlflow-artifacts:/<experiment_id>
    lifecycle_stage: str  # "active"
    tags: dict[str, str]
    creation_time: int
    last_update_time: int


@dataclass(frozen=True, slots=True)
class Metric(_Serialisable):
    """One metric value of a run or logged model at a step. NaN is kept as NaN; infinities are stored as
    the largest finite doubles (as MLflow stores them)."""

    key: str
    value: float
    timestamp: int
    step: int


@dataclass(frozen=True, slots=True)
class RunInput(_Serialisable):
    """A dataset a run used (MLflow's DatasetInput): the dataset's fields and the input's tags
    (e.g. ``mlflow.data.context`` = "training")."""

    name: str
    digest: str
    source_type: str
    source: str
    schema: str | None
    profile: str | None
    tags: dict[str, str]


@dataclass(frozen=True, slots=True)
class Run(_Serialisable):
    """An MLflow run. ``status``: RUNNING, SCHEDULED, FINISHED, FAILED or KILLED. ``metrics`` holds the latest
    value of each key (highest step, then timestamp, then value); ``model_inputs`` are logged model ids;
    ``outputs`` are (logged model id, step) pairs."""

    run_id: str
    experiment_id: str
    run_name: str
    user_id: str
    status: str
    start_time: int | None
    end_time: int | None
    artifact_uri: str  # mlflow-artifacts:/<experiment_id>/<run_id>/artifacts
    lifecycle_stage: str
    metrics: tuple[Metric, ...]
    params: dict[str, str]
    tags: dict[str, str]
    inputs: tuple[RunInput, ...]
    model_inputs: tuple[str, ...]
    outputs: tuple[tuple[str, int], ...]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Run:
        values = {f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data}
        values["metrics"] = tuple(Metric(**entry) for entry in values.get("metrics", ()))
        values["inputs"] = tuple(RunInput(**entry) for entry in values.get("inputs", ()))
        values["model_inputs"] = tuple(values.get("model_inputs", ()))
        values["outputs"] = tuple((str(model), int(step)) for model, step in values.get("outputs", ()))
        return cls(**values)


@dataclass(frozen=True, slots=True)
class LoggedModel(_Serialisable):
    """An MLflow 3 logged model. ``status``: PENDING until finalized, then READY or FAILED."""

    model_id: str  # m-<32 hex>
    experiment_id: str
    name: str
    artifact_location: str  # mlflow-artifacts:/<experiment_id>/models/<model_id>/artifacts
    creation_timestamp: int
    last_updated_timestamp: int
    model_type: str | None
    source_run_id: str | None
    status: str
    status_message: str | None
    tags: dict[str, str]
    params: dict[str, str]
    metrics: tuple[Metric, ...]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LoggedModel:
        values = {f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data}
        values["metrics"] = tuple(Metric(**entry) for entry in values.get("metrics", ()))
        return cls(**values)


@dataclass(frozen=True, slots=True)
class ArtifactEntry(_Serialisable):
    """A file or directory of the artifact store; ``path`` is relative to the store's root (it starts with
    the experiment id). Directories have no size and no digest; a file's digest is its whole-file sha256."""

    path: str
    is_dir: bool
    size: int | None
    digest: str | None
