"""Tracking rows: MLflow experiments, runs and logged models."""

from __future__ import annotations

from sqlalchemy import Connection

__all__ = ["TrackingRows"]


class TrackingRows:
    _c: Connection
