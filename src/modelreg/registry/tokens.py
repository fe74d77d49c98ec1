"""API tokens: created by admins (shown once), stored as sha256, checked on every request.

A token created for a user (``create_token(…, user="alice")``) acts as that user: its role plus the
user's role bindings (``registry.principals``); the audit trail then names the person.

A token looks like ``mrt_<43 url-safe characters>`` (32 random bytes); the prefix lets secret scanners
recognise it. Only ``sha256(token)`` is stored, so a database leak does not leak usable tokens.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime

from modelreg.access import Actor
from modelreg.errors import AuthenticationRequired, InvalidInput
from modelreg.metadata.protocol import MetadataStore
from modelreg.registry.principals import token_actor
from modelreg.types import Token

__all__ = ["PREFIX", "authenticate", "check_token_name", "has_active_tokens", "new_secret", "secret_hash"]

PREFIX = "mrt_"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def new_secret() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_token_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInput(
            f"invalid token name {str(name)[:200]!r}: use 1-128 letters, digits, '.', '_' or '-'"
        )
    return name


def authenticate(metadata: MetadataStore, secret: str, *, now: datetime) -> Actor:
    """The actor a bearer token stands for, with its grants (one session: the token row, then one query
    for the bindings); ``AuthenticationRequired`` never says which check failed."""
    if not secret.startswith(PREFIX) or len(secret) > 256:
        raise AuthenticationRequired("invalid token")
    with metadata.session() as session:
        token = session.token_by_hash(secret_hash(secret))
        if token is None or not _active(token, now):
            raise AuthenticationRequired("invalid, expired or revoked token")
        return token_actor(session, token)


def has_active_tokens(metadata: MetadataStore, *, now: datetime) -> bool:
    with metadata.session() as session:
        return any(_active(token, now) for token in session.list_tokens())


def _active(token: Token, now: datetime) -> bool:
    return token.revoked_at is None and (token.expires_at is None or token.expires_at > now)
