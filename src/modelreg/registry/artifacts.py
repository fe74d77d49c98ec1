"""Artifact use cases, mixed into ``Registry``: files stored by path (MLflow's artifact store), in chunks."""

from __future__ import annotations

__all__ = ["ArtifactCases"]


class ArtifactCases:
    """put, open, list and delete artifacts (``registry.artifacts``)."""
