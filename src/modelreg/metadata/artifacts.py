"""Artifact rows: files stored by path, each a file of the ``files`` table (its chunks)."""

from __future__ import annotations

from sqlalchemy import Connection

__all__ = ["ArtifactRows"]


class ArtifactRows:
    _c: Connection
