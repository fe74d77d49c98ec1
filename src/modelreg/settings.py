"""Typed settings, read from ``MODELREG_*`` environment variables when ``Settings()`` is built.

Built once by the entry point (CLI, server) and passed in; nothing reads the environment at import time.
``docs/settings.md`` is generated from this class and checked by a test.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Self

from pydantic import ByteSize, Field, TypeAdapter, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from modelreg.errors import InvalidInput

__all__ = ["Settings", "parse_size"]

# The whole text must be a size: pydantic's ByteSize alone reads "1.5.5GB" as 1 byte (a prefix match).
_SIZE = re.compile(r"\s*[0-9]{1,18}(\.[0-9]{1,9})?\s*([a-zA-Z]{1,3})?\s*")


def parse_size(text: str) -> int:
    """Bytes, or a number with a decimal (``500MB``) or binary (``20GiB``) unit; ``ValueError`` otherwise."""
    if _SIZE.fullmatch(text) is None:
        raise ValueError(
            f"invalid size {text[:80]!r}: use bytes or a number with a unit, such as 20GiB or 500MB"
        )
    try:
        return int(TypeAdapter(ByteSize).validate_python(text.strip()))
    except ValidationError:
        raise ValueError(
            f"invalid size {text[:80]!r}: unknown unit (use B, kB, MB, GB, KiB, MiB, GiB…)"
        ) from None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MODELREG_", extra="ignore")

    @classmethod
    def load(cls, **values: Any) -> Self:
        """The settings from the environment and ``values``; an invalid one is ``InvalidInput`` naming its
        variable (``MODELREG_WORKERS=abc``), not a validation traceback."""
        try:
            return cls(**values)
        except ValidationError as error:
            first = error.errors()[0]
            name = f"MODELREG_{str(first['loc'][0]).upper()}" if first["loc"] else "a setting"
            message = str(first["msg"]).removeprefix("Value error, ")
            raise InvalidInput(f"invalid setting {name}: {message}") from None

    registry: str = Field(
        ".modelreg",
        description="The registry to use: a directory (embedded SQLite + local chunks, created on first "
        "use), a sqlite:/// or postgresql:// database URL, or an http(s):// registry server.",
    )
    storage: str | None = Field(
        None,
        description="Chunk store URL: file:///path, s3://bucket/prefix or memory://. Defaults to "
        "<registry dir>/chunks for a directory or SQLite registry; required with PostgreSQL.",
    )
    s3_endpoint_url: str | None = Field(
        None,
        description="Endpoint of an S3-compatible server for s3:// storage (MinIO, Ceph, R2: e.g. "
        "http://127.0.0.1:9000). Unset: AWS S3 (or AWS_ENDPOINT_URL). Credentials always come from the "
        "standard AWS chain: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE and ~/.aws, or the "
        "instance or task role.",
    )
    s3_region: str | None = Field(
        None,
        description="AWS region of the s3:// storage bucket, e.g. eu-west-1. Unset: the standard AWS chain "
        "(AWS_DEFAULT_REGION, the profile in ~/.aws/config); unset everywhere, us-east-1.",
    )
    cache_dir: Path | None = Field(
        None,
        description="Local pull cache directory (pulled files, hard-linked, and an index of their chunks by "
        "sha256): a pull fetches only chunks it lacks. Unset: ~/.cache/modelreg for an HTTP registry; no "
        "cache for local chunk stores, whose chunks are already on this machine. It also holds the push stat "
        "cache (stat-cache.json: files unchanged since a push are not read again), kept in the registry "
        "directory when unset for an embedded registry.",
    )
    cache_max_bytes: int | None = Field(
        None,
        ge=0,
        description="Bound on the pull cache, e.g. 20GiB or 50GB (or bytes): after a pull that took the "
        "cache over it, the least recently used files are removed down to 90 % of it. Unset: unbounded "
        "(`modelreg cache prune` trims it on demand).",
    )

    actor: str | None = Field(
        None, description="Who the embedded registry records as acting. Default: the OS user."
    )
    token: str | None = Field(
        None,
        repr=False,  # a credential: never in a repr, a log line or a traceback
        description="API token (mrt_…) sent as `Authorization: Bearer` to an HTTP registry. Unset: no "
        "token, which a server accepts only while it has no tokens at all (anonymous mode).",
    )
    workers: int = Field(
        8, ge=1, le=64, description="Parallel chunk hashing/transfer threads per push or pull."
    )
    audit_production_pulls: bool = Field(
        False,
        description="Record a registry:version:pull audit event each time a version in stage production is "
        "pulled or downloaded (who took which digest, when): a write per pull, so off by default.",
    )
    policy_file: Path | None = Field(
        None,
        description="Promotion policy file (TOML; see docs/architecture.md): read at start (an invalid file "
        "stops the start) and re-read when it changes (an invalid edit is logged and the last valid policy "
        "stays in force). While set, the policy stored through `modelreg policy set` is not used and cannot "
        "be changed. Unset: the stored policy, or the defaults (production and the @champion/@production "
        "aliases governed with 0 approvals and no checks).",
    )
    gc_grace_seconds: float = Field(
        24 * 3600.0,
        ge=0,
        le=1e9,
        description="Garbage collection keeps a chunk no version references for this long after it was "
        "written or after a client was told it is present (uploads whose commit is still to come). "
        "Longer than your slowest push; applies to the registry this process opens or serves.",
    )

    # The server (`modelreg serve`). -------------------------------------------------------------------------
    host: str = Field(
        "127.0.0.1",
        description="Address `modelreg serve` listens on. A non-loopback address needs an active API token "
        "(or --insecure): without tokens the server grants anonymous admin access.",
    )
    port: int = Field(8080, ge=0, le=65535, description="TCP port `modelreg serve` listens on.")
    server_workers: int = Field(
        1,
        ge=1,
        le=64,
        description="Server processes sharing the port. Each builds its own app from these settings; "
        "nothing in a process's memory is needed for correctness.",
    )
    max_json_bytes: int = Field(
        32 * 1024 * 1024,
        ge=1024,
        description="Largest JSON request body the server reads (bytes); larger ones get 413 "
        "PAYLOAD_TOO_LARGE. A commit's manifest is the biggest JSON body.",
    )
    max_chunk_bytes: int = Field(
        64 * 1024 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="Largest chunk upload the server reads (bytes): one chunk, or a batch of them in one "
        "request; larger ones get 413 PAYLOAD_TOO_LARGE. Pushes send at most 4 MiB at once.",
    )
    max_artifact_bytes: int = Field(
        64 * 1024 * 1024 * 1024,
        ge=1024,
        description="Largest file an MLflow client may upload through the artifact proxy (bytes); larger "
        "ones get 413 PAYLOAD_TOO_LARGE. Streamed into the chunk store as it arrives, never held in memory.",
    )
    insecure: bool = Field(
        False,
        description="Let `modelreg serve` listen on a non-loopback address while no API token exists, "
        "i.e. give anonymous admin access to anyone who can reach it. For throwaway setups only.",
    )
    direct_transfers: bool = Field(
        False,
        description="Let clients move chunk bytes straight to and from the s3:// chunk store through "
        "presigned URLs, so `modelreg serve` handles metadata only; the store's endpoint must then be "
        "reachable from clients. Needs a store that can presign (S3): refused at start otherwise.",
    )
    presign_expiry_seconds: int = Field(
        900,
        ge=60,
        le=7 * 24 * 3600,
        description="How long a presigned upload or download URL stays valid (seconds) with "
        "direct_transfers; clients ask for fresh ones when theirs expire.",
    )
    verify_file_digests: bool = Field(
        True,
        description="`modelreg serve` re-hashes each new file at commit (reading its chunks from the store) "
        "to check the whole-file sha256 the client claims, which later pushes of the same file trust. "
        "Off: commits read no chunk bytes (with direct_transfers the server then handles metadata only), "
        "but a contributor could record a wrong digest that later pushes of that file reuse; every chunk "
        "is still verified, and SDK pulls still check every file (see docs/architecture.md).",
    )

    @field_validator("cache_max_bytes", mode="before")
    @classmethod
    def _size(cls, value: object) -> object:
        return parse_size(value) if isinstance(value, str) else value
