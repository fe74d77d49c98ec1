"""The routers, one module per concept; ``ROUTERS`` is the order they are mounted in."""

from __future__ import annotations

from modelreg.api.routes import aliases, health, models, search, storage, tokens, transfer, versions

__all__ = ["ROUTERS"]

ROUTERS = (
    models.router,
    versions.router,
    transfer.router,
    aliases.router,
    search.router,
    tokens.router,
    storage.router,
    health.router,
)
