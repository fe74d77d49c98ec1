"""Request bodies (wire shapes in), and the response shapes the OpenAPI document names.

What the wire itself defines is typed strictly here (a manifest's structure, digest lists, search requests,
times as ISO-8601; unknown fields are refused): a violation is 400 INVALID_INPUT with the field errors.
The arguments of the use cases (metrics, params, tags, descriptions, lineage, signature, aliases, stages)
are any JSON, handed to the registry as given: its rules decide, so the HTTP SDK raises exactly the error the
embedded one does (e.g. INVALID_METADATA for a lineage that is not a mapping). Size caps only bound the work
one request can cause; the body limit bounds the rest.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from modelreg.types import AliasChange, Model, ModelVersion, StageChange, Token

__all__ = [
    "AliasBody",
    "CommitBody",
    "DescriptionBody",
    "DigestsBody",
    "ErrorResponse",
    "GcBody",
    "ManifestBody",
    "SearchModelsBody",
    "SearchVersionsBody",
    "StageBody",
    "TagBody",
    "TokenBody",
]

MAX_DIGESTS = 10_000  # per missing-chunks / known-files request; the SDK batches
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


class SearchModelsBody(_Body):
    filter: StrictStr | None = Field(None, max_length=_TEXT, description="e.g. tags.team = 'risk'")
    order_by: list[StrictStr] = Field(default_factory=list, max_length=10_000)
    limit: StrictInt = 100
    page_token: StrictStr | None = Field(None, max_length=4096)


class SearchVersionsBody(SearchModelsBody):
    include_deleted: StrictBool = False


class DigestsBody(_Body):
    digests: list[StrictStr] = Field(description=f"At most {MAX_DIGESTS} sha256:<hex> digests.")


class GcBody(_Body):
    apply: StrictBool = Field(False, description="Delete the reclaimable chunks; false: a dry run.")


class TokenBody(_Body):
    # Strings on the wire: the role check looks the value up in a dict, which a list or object would crash.
    name: StrictStr = Field(max_length=1024, description="Token name: letters, digits, '.', '_', '-'.")
    role: StrictStr = Field(max_length=64, description="viewer, contributor or admin")
    expires_at: datetime | None = Field(None, description="ISO-8601 with a time zone; null: never")


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


class StageHistory(BaseModel):
    items: list[StageChange]


class TokenList(BaseModel):
    items: list[Token]


class ManifestResponse(BaseModel):
    version: ModelVersion
    manifest: dict[str, Any] = Field(description="Manifest.to_json(): schema, files with chunk lists")
