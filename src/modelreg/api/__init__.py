"""The REST API v1 (FastAPI): HTTP in, registry use cases, the one JSON error shape out.

The wire contract is ``docs/api.md`` (generated from the OpenAPI document). This package turns requests into
``Registry`` calls and nothing else: authorisation happens inside the use cases, storage behind the registry's
seams. ``modelreg.server`` is the composition root that builds the stores and serves the app.
"""

from __future__ import annotations

from modelreg.api.app import create_app
from modelreg.api.limits import Limits

__all__ = ["Limits", "create_app"]
