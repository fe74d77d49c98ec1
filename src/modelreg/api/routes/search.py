"""Search: filters such as ``metrics.auc > 0.9 and tags.team = 'risk'``, compiled to SQL by the registry.

POST, not GET: filters and order lists do not fit comfortably in a query string.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from modelreg.api.auth import CallerRegistry
from modelreg.api.responses import ERRORS, answers, page
from modelreg.api.schemas import ModelPage, SearchModelsBody, SearchVersionsBody, VersionPage

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/search", tags=["search"], responses=ERRORS)


@router.post("/versions", **answers(VersionPage))
def search_versions(registry: CallerRegistry, body: SearchVersionsBody) -> Response:
    """Versions matching a filter, in the order asked (see docs/search.md)."""
    return page(
        registry.search_versions(
            body.filter,
            order_by=body.order_by,
            include_deleted=body.include_deleted,
            limit=body.limit,
            page_token=body.page_token,
        )
    )


@router.post("/models", **answers(ModelPage))
def search_models(registry: CallerRegistry, body: SearchModelsBody) -> Response:
    """Models matching a filter, in the order asked (see docs/search.md)."""
    return page(
        registry.search_models(
            body.filter, order_by=body.order_by, limit=body.limit, page_token=body.page_token
        )
    )
