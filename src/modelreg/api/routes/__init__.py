"""The routers, one module per concept; ``ROUTERS`` is the order they are mounted in."""

from __future__ import annotations

from modelreg.api.routes import (
    access,
    aliases,
    audit,
    deployments,
    health,
    models,
    promotions,
    retention,
    search,
    stats,
    storage,
    tokens,
    transfer,
    versions,
)

__all__ = ["ROUTERS"]

ROUTERS = (
    models.router,
    versions.router,
    transfer.router,
    aliases.router,
    search.router,
    tokens.router,
    access.router,
    storage.router,
    retention.router,
    audit.router,
    deployments.router,
    promotions.router,
    stats.router,
    health.router,
)
