"""Administration use cases, mixed into ``Registry``: storage statistics, garbage collection, API tokens."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, cast

from modelreg.access import Permission, check_role
from modelreg.errors import InvalidInput, PrincipalNotFound, TokenNotFound
from modelreg.registry import collection, stats, tokens
from modelreg.registry.principals import check_principal_name
from modelreg.registry.tokens import check_token_name
from modelreg.types import GcReport, StorageStats, Token

if TYPE_CHECKING:
    from modelreg.registry.service import Registry

__all__ = ["AdminCases"]


class AdminCases:
    """Storage and token administration, mixed into ``Registry`` (keeping its module under 500 lines)."""

    def storage_stats(self, name: str | None = None) -> StorageStats:
        """Logical and physical (deduplicated) bytes per model and in total; see ``registry.stats``."""
        return stats.storage_stats(_registry(self), name)

    def collect_garbage(self, *, apply: bool = False) -> GcReport:
        """Mark-and-sweep the chunk store from the files of every version not purged; a dry run unless
        ``apply``.

        A dry run writes nothing. ``apply`` deletes the unreferenced chunks that are neither leased (a client
        was told they are present) nor younger than the grace period, one collection at a time, safely while
        pushes run; it is audited (registry:gc:start, registry:gc:finish).
        """
        registry = _registry(self)
        registry.actor.require(Permission.STORAGE_ADMIN)
        if not isinstance(apply, bool):
            raise InvalidInput(f"apply must be true or false, not {str(apply)[:40]!r}")
        return collection.collect(registry, apply=apply)

    def create_token(
        self, name: str, *, role: str, expires_at: datetime | None = None, user: str | None = None
    ) -> Token:
        """A new API token; the returned ``secret`` is shown this once and never stored. With ``user`` it
        acts as that (existing) user: its role plus the user's bindings (``registry.principals``). Role
        "none": the token holds only bindings (its own, its user's, and their groups')."""
        registry = _registry(self)
        registry.actor.require(Permission.TOKEN_ADMIN)
        check_token_name(name)
        check_role(role, none_ok=True)
        if user is not None:
            check_principal_name("user", user)
        now = registry._clock()
        if expires_at is not None and (expires_at.tzinfo is None or expires_at <= now):
            raise InvalidInput("a token's expiry must be a timezone-aware time in the future")
        secret = tokens.new_secret()
        with registry.metadata.session(write=True) as session:
            if user is not None and not session.principal_exists(f"user:{user}"):
                raise PrincipalNotFound(f"user {user!r} not found")
            token = session.insert_token(
                name=name,
                role=role,
                secret_hash=tokens.secret_hash(secret),
                at=now,
                actor=registry.actor.name,
                expires_at=expires_at,
                user=user,
            )
            extra = {} if user is None else {"user": user}
            registry._audit(
                session,
                now,
                "registry:token:create",
                None,
                token.actor,
                role=role,
                token_id=token.id,
                **extra,
            )
        return replace(token, secret=secret)

    def list_tokens(self) -> list[Token]:
        registry = _registry(self)
        registry.actor.require(Permission.TOKEN_ADMIN)
        with registry.metadata.session() as session:
            return session.list_tokens()

    def revoke_token(self, name: str) -> int:
        """Revoke every active token called ``name``; raises ``TokenNotFound`` when there is none."""
        registry = _registry(self)
        registry.actor.require(Permission.TOKEN_ADMIN)
        check_token_name(name)
        with registry.metadata.session(write=True) as session:
            now = registry._now()
            count = session.revoke_tokens(name, at=now, actor=registry.actor.name)
            if count == 0:
                raise TokenNotFound(f"no active token named {name!r}")
            registry._audit(session, now, "registry:token:revoke", None, f"token:{name}", revoked=count)
        return count


def _registry(cases: AdminCases) -> Registry:
    return cast("Registry", cases)
