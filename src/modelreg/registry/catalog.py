"""Model lifecycle use cases, mixed into ``Registry``: create an empty model, rename it, delete it."""

from __future__ import annotations

__all__ = ["CatalogCases"]


class CatalogCases:
    """create_model, rename_model, delete_model (``registry.catalog``)."""
