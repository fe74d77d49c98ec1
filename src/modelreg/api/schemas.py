"""Request bodies (wire shapes in), and the response shapes the OpenAPI document names.

What the wire itself defines is typed strictly here (a manifest's structure, digest lists, search requests,
times as ISO-8601; unknown fields are refused): a violation is 400 INVALID_INPUT with the field errors.
The arguments of the use cases (metrics, params, tags, descriptions, lineage, signature, aliases, stages)
are any JSON, handed to the registry as given: its rules decide, so the HTTP SDK raises exactly the error the
embedded one does (e.g. INVALID_METADATA for a lineage that is not a mapping). Size caps only bound the work
one request can cause; the body limit bounds the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr
from pydantic.config import JsonDict

from modelreg.registry.names import MODEL_NAME_PATTERN
from modelreg.types import (
    AliasChange,
    AuditEvent,
    Deployment,
    Group,
    LegalHold,
    Model,
    ModelVersion,
    Promotion,
    RetentionPolicy,
    RoleBinding,
    StageChange,
    Token,
    User,
)

__all__ = [
    "AliasBody",
    "AuditEventPage",
    "BindingBody",
    "BindingList",
    "CommitBody",
    "CommittedVersion",
    "CreateModelBody",
    "DeploymentBody",
    "DeploymentEndBody",
    "DeploymentList",
    "DescriptionBody",
    "DigestsBody",
    "ErrorResponse",
    "GcBody",
    "GroupList",
    "HoldBody",
    "ManifestBody",
    "PolicyBody",
    "PrincipalBody",
    "PromotionBody",
    "PromotionDecisionBody",
    "PromotionList",
    "RenameModelBody",
    "RetentionApplyBody",
    "RetentionBody",
    "RollbackBody",
    "SearchModelsBody",
    "SearchVersionsBody",
    "StageBody",
    "TagBody",
    "TokenBody",
    "UserList",
]

MAX_DIGESTS = 10_000  # per missing-chunks / known-files request; the SDK batches
MAX_READ_CHUNKS = 1_024  # per chunk-batch read; the SDK asks for about 8 MiB at a time
MAX_UPLOAD_CHUNKS = 64  # per chunk-batch upload, named in its query string (~5.5 KB of URL at most)
_TEXT = 1 << 20  # characters in a free-text search field


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DescriptionBody(_Body):
    description: Any = Field(description="A string (the registry checks it).")


class TagBody(_Body):
    value: Any = Field(description="A string (the registry checks it).")


class StageBody(_Body):
    stage: Any = Field(description="none, staging, production or archived")


class AliasBody(_Body):
    # Typed and bounded here: the registry takes any int, and one past the database's integer range fails
    # in the driver (a 500) instead of as VERSION_NOT_FOUND. 2**31 - 1 is the reference parser's own bound.
    version: StrictInt = Field(le=2**31 - 1, description="The version number the alias should point at.")


class FileBody(_Body):
    path: StrictStr = Field(max_length=4096)
    size: StrictInt
    digest: StrictStr = Field(max_length=128)
    media_type: StrictStr | None = Field(None, max_length=256)
    chunks: list[tuple[StrictStr, StrictInt]] = Field(max_length=1_000_000)


class ManifestBody(_Body):
    """``Manifest.to_json()``: the version digest is computed by the server from its canonical form."""

    schema_: Literal[1] = Field(alias="schema")
    files: list[FileBody] = Field(max_length=1_000_000)


class CommitBody(_Body):
    manifest: ManifestBody
    metrics: Any = Field(default_factory=dict, description="{name: number}")
    params: Any = Field(default_factory=dict, description="{name: string}")
    tags: Any = Field(default_factory=dict, description="{key: string}")
    description: Any = Field("", description="A string.")
    lineage: Any = Field(None, description="{run_id, code, datasets, parents, environment} or null")
    signature: Any = Field(None, description="An object (input/output schema) or null")
    aliases: list[Any] = Field(default_factory=list, max_length=1000, description="Aliases to point here.")
    version: Any = Field(
        None,
        description="Register under this number (imports, version:import): above every number the model "
        "has had, else 409 VERSION_EXISTS; null or absent: the next number.",
    )


# Documented as a string of the registry's pattern; typed Any so that the registry's own check answers
# (INVALID_NAME), not a generic validation error.
_MODEL_NAME_SCHEMA: JsonDict = {"type": "string", "pattern": f"^{MODEL_NAME_PATTERN}$"}


class CreateModelBody(_Body):
    name: Any = Field(description="The model name.", json_schema_extra=_MODEL_NAME_SCHEMA)
    description: Any = Field("", description="A string.")
    tags: Any = Field(None, description="{key: string} or null")


class RenameModelBody(_Body):
    new_name: Any = Field(description="The model's new name.", json_schema_extra=_MODEL_NAME_SCHEMA)


class SearchModelsBody(_Body):
    filter: StrictStr | None = Field(None, max_length=_TEXT, description="e.g. tags.team = 'risk'")
    order_by: list[StrictStr] = Field(default_factory=list, max_length=10_000)
    limit: StrictInt = 100
    page_token: StrictStr | None = Field(None, max_length=4096)


class SearchVersionsBody(SearchModelsBody):
    include_deleted: StrictBool = False


class DigestsBody(_Body):
    digests: list[StrictStr] = Field(description=f"At most {MAX_DIGESTS} sha256:<hex> digests.")


class ChunkItem(_Body):
    digest: StrictStr = Field(description="sha256:<64 hex>")
    size: StrictInt = Field(ge=0, description="Its size in bytes, as the manifest gives it.")


class ChunksBody(_Body):
    chunks: list[ChunkItem] = Field(
        description=f"At most {MAX_READ_CHUNKS} chunks of the version, in the order their bytes are wanted."
    )


class GcBody(_Body):
    apply: StrictBool = Field(False, description="Delete the reclaimable chunks; false: a dry run.")


class DeploymentBody(_Body):
    ref: StrictStr = Field(max_length=1024, description="The version now serving: any reference form.")
    environment: Any = Field(description="Where it serves, e.g. prod-eu (the registry checks it).")
    endpoint: Any = Field(None, description="Optionally, the endpoint within the environment (URL, name).")


class DeploymentEndBody(_Body):
    name: StrictStr = Field(max_length=1024, description="The model that stopped serving.")
    environment: Any = Field(description="Where it served.")
    endpoint: Any = Field(None, description="The endpoint it was recorded with, if any.")


class DeploymentList(BaseModel):
    items: list[Deployment]


class PromotionBody(_Body):
    ref: StrictStr = Field(max_length=1024, description="The version to promote: any reference form.")
    to: Any = Field(description='The target: a stage ("production") or an alias ("@champion").')
    comment: Any = Field(None, description="Why (recorded in the audit trail): a string or null.")


class PromotionDecisionBody(_Body):
    comment: Any = Field(None, description="Why (recorded in the audit trail): a string or null.")


class RollbackBody(_Body):
    ref: StrictStr = Field(max_length=1024, description="NAME@ALIAS: the alias to move back.")
    comment: Any = Field(None, description="Why (recorded in the audit trail): a string or null.")
    emergency: Any = Field(False, description="Skip approvals (promotion:emergency); audited as such.")


class PromotionList(BaseModel):
    items: list[Promotion]


class PolicyBody(_Body):
    text: Any = Field(description="The promotion policy, TOML text (the registry validates it).")


class HoldBody(_Body):
    reason: Any = Field("", description="Why the version is held: a string (the registry checks it).")


class RetentionBody(_Body):
    keep_last: Any = Field(None, description="Keep the N newest live versions; null: rule off.")
    archived_days: Any = Field(None, description="Purge versions archived more than D days ago; null: off.")
    deleted_days: Any = Field(
        None,
        description="Purge versions deleted more than D days ago (a deleted model's versions too, under the "
        "global policy); null: off.",
    )


class RetentionApplyBody(_Body):
    name: StrictStr | None = Field(None, max_length=1024, description="One model; null: every model.")
    apply: StrictBool = Field(False, description="Purge the selected versions; false: a dry run.")


class TokenBody(_Body):
    # Strings on the wire: the role check looks the value up in a dict, which a list or object would crash.
    name: StrictStr = Field(max_length=1024, description="Token name: letters, digits, '.', '_', '-'.")
    role: StrictStr = Field(
        max_length=64, description="viewer, contributor, approver, admin, or none (bindings only)"
    )
    expires_at: datetime | None = Field(None, description="ISO-8601 with a time zone; null: never")
    user: StrictStr | None = Field(
        None, max_length=1024, description="Act as this user (its role bindings too); null: as the token"
    )


class PrincipalBody(_Body):
    name: StrictStr = Field(
        max_length=1024, description="User or group name: letters, digits, '.', '_', '@', '-'."
    )


class BindingBody(_Body):
    role: StrictStr = Field(max_length=64, description="viewer, contributor, approver or admin")
    principal: StrictStr = Field(max_length=1024, description="user:NAME, group:NAME or token:NAME")
    models: StrictStr = Field("*", max_length=1024, description="Model-name pattern: '*', 'risk-*', 'a?c'")


# Response shapes, for the OpenAPI document only (routes answer with the public types' to_dict()).
class ErrorBody(BaseModel):
    code: str = Field(description="Stable error code, see docs/errors.md")
    message: str
    details: dict[str, Any]


class ErrorResponse(BaseModel):
    error: ErrorBody


class ModelPage(BaseModel):
    items: list[Model]
    next_page_token: str | None


class VersionPage(BaseModel):
    items: list[ModelVersion]
    next_page_token: str | None


class AliasHistory(BaseModel):
    items: list[AliasChange]


class AuditEventPage(BaseModel):
    items: list[AuditEvent]
    next_page_token: str | None


class StageHistory(BaseModel):
    items: list[StageChange]


class HoldList(BaseModel):
    items: list[LegalHold]


class RetentionList(BaseModel):
    items: list[RetentionPolicy]


class TokenList(BaseModel):
    items: list[Token]


class UserList(BaseModel):
    items: list[User]


class GroupList(BaseModel):
    items: list[Group]


class BindingList(BaseModel):
    items: list[RoleBinding]


@dataclass(frozen=True)
class CommittedVersion(ModelVersion):
    """What a commit answers: the new version, and what its content added to storage (``CommitReport``):
    distinct chunks no committed version held before (new), and the rest of its bytes (deduplicated)."""

    chunks_new: int = 0
    bytes_new: int = 0
    chunks_deduplicated: int = 0
    bytes_deduplicated: int = 0


class ManifestResponse(BaseModel):
    version: ModelVersion
    manifest: dict[str, Any] = Field(description="Manifest.to_json(): schema, files with chunk lists")
    direct_downloads: bool = Field(
        False,
        description="Present and true when the server offers presigned chunk downloads: POST "
        "…/chunks/urls answers them (direct transfers).",
    )


class PresignedRequestShape(BaseModel):
    """A request the client makes straight to the object store, sending ``headers`` exactly as given."""

    method: str = Field(description="PUT or GET")
    url: str = Field(description="The presigned URL (S3 SigV4 query authentication)")
    headers: dict[str, str] = Field(description="Signed headers to send as they are")
    expires_in: int = Field(description="Seconds from the answer until the URL stops working")


class MissingChunksResponse(BaseModel):
    missing: list[str] = Field(description="Digests to upload, in the order asked")
    uploads: dict[str, PresignedRequestShape] | None = Field(
        None,
        description="Only with upload_urls=true: a presigned PUT per missing chunk when the server offers "
        "direct transfers, else empty (upload through PUT /chunks/{digest}).",
    )


class ChunkUrlsResponse(BaseModel):
    downloads: dict[str, PresignedRequestShape] = Field(
        description="A presigned GET per chunk asked; empty when the server offers no direct transfers."
    )
