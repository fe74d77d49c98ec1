"""MLflow tracking use cases, mixed into ``Registry``: experiments, runs and logged models."""

from __future__ import annotations

__all__ = ["TrackingCases"]


class TrackingCases:
    """Experiments, runs, logged models (``registry.tracking``)."""
