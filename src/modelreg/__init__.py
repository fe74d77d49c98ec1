"""modelreg: an AI model registry. ``modelreg.connect(...)`` returns the SDK ``Client``.

Imports are lazy so that ``import modelreg`` (and the CLI's ``--help``) stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["Client", "Settings", "connect", "errors", "types"]
__version__ = "0.1.0"

if TYPE_CHECKING:
    from modelreg import errors, types
    from modelreg.client.client import Client
    from modelreg.connection import connect
    from modelreg.settings import Settings


def __getattr__(name: str) -> Any:
    if name == "connect":
        from modelreg.connection import connect

        return connect
    if name == "Client":
        from modelreg.client.client import Client

        return Client
    if name == "Settings":
        from modelreg.settings import Settings

        return Settings
    if name in ("errors", "types"):
        import importlib

        return importlib.import_module(f"modelreg.{name}")
    raise AttributeError(f"module 'modelreg' has no attribute {name!r}")
