"""The tracking tables: MLflow experiments, runs, logged models, artifacts (part of ``tables.metadata``)."""

from __future__ import annotations

__all__: list[str] = []
