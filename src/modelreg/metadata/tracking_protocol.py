"""The metadata session's tracking and artifact methods (part of ``MetadataSession``)."""

from __future__ import annotations

from typing import Protocol

__all__ = ["TrackingSession"]


class TrackingSession(Protocol):
    """MLflow experiments, runs, logged models and artifacts. Methods raise only modelreg errors."""
