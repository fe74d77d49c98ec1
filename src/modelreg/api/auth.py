"""Who is calling: ``Authorization: Bearer mrt_…`` → an ``Actor`` → the caller's ``Registry``.

The token may also come as the password of ``Authorization: Basic base64(user:password)``: that is what
MLflow's client sends for ``MLFLOW_TRACKING_USERNAME``/``MLFLOW_TRACKING_PASSWORD`` (``MLFLOW_TRACKING_TOKEN``
sends a Bearer header). The user part is ignored: the token alone names the caller, so a user name cannot
claim anyone else's identity. Both forms work on every route.

The API authenticates; it never authorises. Each route receives ``Registry.as_actor(actor)`` and the use
case checks the permission (DESIGN invariant 5), so REST, SDK and CLI refuse exactly the same things.

Anonymous mode: while the database holds no active token, a request without credentials acts as
``Actor("anonymous", role="admin")`` (a fresh local registry must be usable before its first token exists).
``modelreg serve`` allows that only on a loopback address unless ``--insecure``; otherwise the app is built
with ``allow_anonymous=False``. Whether tokens exist is read from the database, so every replica agrees; a
"tokens exist" answer is remembered for a few seconds (``TOKENS_SEEN_TTL``), a "no tokens" answer never is,
so creating the first token closes anonymous access at once on every replica.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPBearer

from modelreg.access import Actor
from modelreg.errors import AuthenticationRequired
from modelreg.metadata.protocol import MetadataStore
from modelreg.registry import tokens
from modelreg.registry.service import Registry

__all__ = ["ANONYMOUS", "TOKENS_SEEN_TTL", "Authenticator", "CallerRegistry", "caller_registry"]

ANONYMOUS = Actor("anonymous", role="admin")
TOKENS_SEEN_TTL = 5.0  # seconds

# Declared for the OpenAPI document (the "Authorize" button in /docs); the header itself is read below, so
# that a malformed Authorization header is refused instead of being treated as no credentials.
_bearer = HTTPBearer(auto_error=False, description="An API token: `modelreg token create --name ci …`")


class Authenticator:
    def __init__(
        self, metadata: MetadataStore, *, allow_anonymous: bool, clock: Callable[[], datetime]
    ) -> None:
        self._metadata = metadata
        self._allow_anonymous = allow_anonymous
        self._clock = clock
        self._tokens_seen_at: float | None = None

    def actor(self, authorization: str | None) -> Actor:
        """The actor for an ``Authorization`` header value; ``AuthenticationRequired`` when none applies."""
        if authorization is None:
            if self._allow_anonymous and not self._tokens_exist():
                return ANONYMOUS
            raise AuthenticationRequired(
                "this registry requires an API token: send 'Authorization: Bearer mrt_…' (or the token as "
                "the password of HTTP Basic authentication)"
            )
        return tokens.authenticate(self._metadata, _secret(authorization), now=self._clock())

    def _tokens_exist(self) -> bool:
        seen = self._tokens_seen_at
        if seen is not None and time.monotonic() - seen < TOKENS_SEEN_TTL:
            return True
        exist = tokens.has_active_tokens(self._metadata, now=self._clock())
        self._tokens_seen_at = time.monotonic() if exist else None
        return exist


def _secret(authorization: str) -> str:
    """The token in a Bearer header, or the password of a Basic one; ``AuthenticationRequired`` otherwise."""
    scheme, _, credentials = authorization.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer" and credentials:
        return credentials
    if scheme.lower() == "basic" and credentials:
        password = _basic_password(credentials)
        if password:
            return password
    raise AuthenticationRequired(
        "expected an 'Authorization: Bearer <token>' header, or Basic credentials whose password is a token"
    )


def _basic_password(credentials: str) -> str | None:
    """The password of ``base64(user:password)``; None when the credentials do not decode to that."""
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
        return None
    _user, colon, password = decoded.partition(":")
    return password if colon else None


def caller_registry(request: Request, _scheme: Annotated[object, Security(_bearer)] = None) -> Registry:
    """FastAPI dependency: the registry acting as the authenticated caller (recorded for the access log)."""
    state = request.app.state
    actor = state.authenticator.actor(request.headers.get("authorization"))
    request.state.actor = actor.name
    registry: Registry = state.registry
    return registry.as_actor(actor)


CallerRegistry = Annotated[Registry, Depends(caller_registry)]
