"""Token rows: the part of a metadata session that stores hashed API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from modelreg.metadata.tables import tokens
from modelreg.types import Token

__all__ = ["TokenRows"]


class TokenRows:
    _c: Connection

    def insert_token(
        self,
        *,
        name: str,
        role: str,
        secret_hash: str,
        at: datetime,
        actor: str,
        expires_at: datetime | None,
        user: str | None = None,
    ) -> Token:
        row = {
            "name": name,
            "role": role,
            "secret_hash": secret_hash,
            "created_at": at,
            "created_by": actor,
            "expires_at": expires_at,
            "user_name": user,
        }
        token_id = self._c.execute(insert(tokens).values(**row).returning(tokens.c.id)).scalar_one()
        return Token(token_id, name, role, at, actor, expires_at, None, user)

    def token_by_hash(self, secret_hash: str) -> Token | None:
        row = self._c.execute(select(tokens).where(tokens.c.secret_hash == secret_hash)).first()
        return None if row is None else _token(row)

    def list_tokens(self) -> list[Token]:
        return [_token(row) for row in self._c.execute(select(tokens).order_by(tokens.c.id))]

    def revoke_tokens(self, name: str, *, at: datetime, actor: str) -> int:
        active = (tokens.c.name == name) & tokens.c.revoked_at.is_(None)
        result = self._c.execute(update(tokens).where(active).values(revoked_at=at, revoked_by=actor))
        return int(result.rowcount)


def _token(row: Row[Any]) -> Token:
    return Token(
        id=row.id,
        name=row.name,
        role=row.role,
        created_at=row.created_at,
        created_by=row.created_by,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        user=row.user_name,
    )
