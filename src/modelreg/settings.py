"""Typed settings, read from ``MODELREG_*`` environment variables when ``Settings()`` is built.

Built once by the entry point (CLI, server) and passed in; nothing reads the environment at import time.
``docs/settings.md`` is generated from this class and checked by a test.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MODELREG_", extra="ignore")

    registry: str = Field(
        ".modelreg",
        description="The registry to use: a directory (embedded SQLite + local chunks, created on first "
        "use), a sqlite:/// or postgresql:// database URL.",
    )
    storage: str | None = Field(
        None,
        description="Chunk store URL: file:///path or memory://. Defaults to <registry dir>/chunks for a "
        "directory or SQLite registry; required with PostgreSQL.",
    )
    cache_dir: Path | None = Field(
        None,
        description="Local pull cache directory (chunks by sha256). Unset: no cache for local chunk stores, "
        "whose chunks are already on this machine.",
    )
    actor: str | None = Field(
        None, description="Who the embedded registry records as acting. Default: the OS user."
    )
    workers: int = Field(
        8, ge=1, le=64, description="Parallel chunk hashing/transfer threads per push or pull."
    )
