"""What one invocation of ``modelreg`` works against, and the lazily opened SDK connection."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from modelreg.client.client import Client

__all__ = ["DEFAULT_REGISTRY", "Session"]

DEFAULT_REGISTRY = "./.modelreg"


@dataclass(frozen=True, slots=True)
class Session:
    """The global options, resolved once by the root callback and read by every command."""

    target: str = DEFAULT_REGISTRY
    storage: str | None = None
    token: str | None = None
    json: bool = False

    @classmethod
    def of(cls, ctx: typer.Context, *, json: bool) -> Session:
        """The session of this invocation; ``--json`` may be given globally or after the command."""
        found = ctx.find_object(Session)
        session = found if found is not None else cls()
        return dataclasses.replace(session, json=session.json or json)

    @property
    def interactive(self) -> bool:
        """Whether a person is watching: progress bars only then, never into pipes, logs or JSON."""
        return not self.json and sys.stdout.isatty() and sys.stderr.isatty()

    @contextmanager
    def connect(self) -> Iterator[Client]:
        """Open the registry (creating an embedded one on first use) and close it afterwards."""
        # The SDK pulls in SQLAlchemy & co.: import it only when a command runs, never for --help.
        import modelreg

        registry = modelreg.connect(self.target, storage=self.storage, token=self.token)
        try:
            yield registry
        finally:
            registry.close()
