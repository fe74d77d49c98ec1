"""Users, groups, memberships and role bindings: the part of a metadata session behind access control.

Principals are text everywhere (``user:alice``, ``group:risk-team``, ``token:ci``); see ``tables.py``.
``grants_of`` is what authentication asks: one query for the bindings of a caller and of its groups.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, Table, delete, insert, literal, or_, select, update

from modelreg.metadata.tables import group_members, groups, role_bindings, tokens, users
from modelreg.types import Group, RoleBinding, User

__all__ = ["PrincipalRows"]

Kind = Literal["user", "group"]
_TABLES: dict[str, Table] = {"user": users, "group": groups}


class PrincipalRows:
    _c: Connection

    def insert_principal(self, kind: Kind, name: str, *, at: datetime, actor: str) -> bool:
        """Create a user or group; False (nothing written) when one of that name exists."""
        table = _TABLES[kind]
        if self._c.execute(select(table.c.id).where(table.c.name == name)).first() is not None:
            return False
        self._c.execute(insert(table).values(name=name, created_at=at, created_by=actor))
        return True

    def delete_principal(self, kind: Kind, name: str) -> bool:
        """Delete a user or group with its bindings and memberships (a group's members too)."""
        table = _TABLES[kind]
        row_id = self._c.execute(select(table.c.id).where(table.c.name == name)).scalar()
        if row_id is None:
            return False
        principal = f"{kind}:{name}"
        self._c.execute(delete(role_bindings).where(role_bindings.c.principal == principal))
        if kind == "group":
            self._c.execute(delete(group_members).where(group_members.c.group_id == row_id))
        self._c.execute(delete(group_members).where(group_members.c.member == principal))
        self._c.execute(delete(table).where(table.c.id == row_id))
        return True

    def principal_exists(self, principal: str) -> bool:
        """A user or group of that name, or a token of that name not revoked."""
        kind, _, name = principal.partition(":")
        if kind == "token":
            query = select(tokens.c.id).where(tokens.c.name == name, tokens.c.revoked_at.is_(None))
        else:
            table = _TABLES[kind]
            query = select(table.c.id).where(table.c.name == name)
        return self._c.execute(query.limit(1)).first() is not None

    def users(self) -> list[User]:
        member_of: dict[str, list[str]] = defaultdict(list)
        for member, group in self._c.execute(
            select(group_members.c.member, groups.c.name)
            .join(groups, groups.c.id == group_members.c.group_id)
            .where(group_members.c.member.like("user:%"))
            .order_by(groups.c.name)
        ):
            member_of[member.removeprefix("user:")].append(group)
        rows = self._c.execute(select(users).order_by(users.c.name))
        return [User(r.name, r.created_at, r.created_by, tuple(member_of[r.name])) for r in rows]

    def groups(self) -> list[Group]:
        members: dict[int, list[str]] = defaultdict(list)
        for group_id, member in self._c.execute(
            select(group_members.c.group_id, group_members.c.member).order_by(group_members.c.member)
        ):
            members[group_id].append(member)
        rows = self._c.execute(select(groups).order_by(groups.c.name))
        return [Group(r.name, r.created_at, r.created_by, tuple(members[r.id])) for r in rows]

    def add_member(self, group: str, member: str, *, at: datetime, actor: str) -> bool | None:
        """True when added, False when already a member, None when the group does not exist."""
        group_id = self._c.execute(select(groups.c.id).where(groups.c.name == group)).scalar()
        if group_id is None:
            return None
        present = (group_members.c.group_id == group_id) & (group_members.c.member == member)
        if self._c.execute(select(group_members.c.member).where(present)).first() is not None:
            return False
        row = {"group_id": group_id, "member": member, "added_at": at, "added_by": actor}
        self._c.execute(insert(group_members).values(**row))
        return True

    def remove_member(self, group: str, member: str) -> bool:
        group_id = select(groups.c.id).where(groups.c.name == group).scalar_subquery()
        present = (group_members.c.group_id == group_id) & (group_members.c.member == member)
        return bool(self._c.execute(delete(group_members).where(present)).rowcount)

    def insert_binding(self, binding: RoleBinding) -> bool:
        """False (nothing written) when the principal already holds that role on that pattern."""
        if self._c.execute(select(role_bindings.c.role).where(_same(binding))).first() is not None:
            return False
        self._c.execute(insert(role_bindings).values(**dataclasses.asdict(binding)))
        return True

    def delete_binding(self, principal: str, role: str, models: str) -> bool:
        key = RoleBinding(principal, role, models, datetime.min, "")
        return bool(self._c.execute(delete(role_bindings).where(_same(key))).rowcount)

    def bindings(self, principal: str | None = None) -> list[RoleBinding]:
        query = select(role_bindings).order_by(
            role_bindings.c.principal, role_bindings.c.role, role_bindings.c.models
        )
        if principal is not None:
            query = query.where(role_bindings.c.principal == principal)
        return [_binding(row) for row in self._c.execute(query)]

    def grants_of(self, principals: Sequence[str]) -> list[tuple[str, str]]:
        """(role, models) of every binding held by these principals or by a group one of them is in."""
        of_groups = (
            select(literal("group:") + groups.c.name)
            .join(group_members, group_members.c.group_id == groups.c.id)
            .where(group_members.c.member.in_(list(principals)))
        )
        query = (
            select(role_bindings.c.role, role_bindings.c.models)
            .where(
                or_(role_bindings.c.principal.in_(list(principals)), role_bindings.c.principal.in_(of_groups))
            )
            .distinct()
            .order_by(role_bindings.c.role, role_bindings.c.models)
        )
        return [(role, models) for role, models in self._c.execute(query)]

    def revoke_user_tokens(self, user: str, *, at: datetime, actor: str) -> int:
        active = (tokens.c.user_name == user) & tokens.c.revoked_at.is_(None)
        result = self._c.execute(update(tokens).where(active).values(revoked_at=at, revoked_by=actor))
        return int(result.rowcount)


def _same(binding: RoleBinding) -> Any:
    c = role_bindings.c
    return (c.principal == binding.principal) & (c.role == binding.role) & (c.models == binding.models)


def _binding(row: Any) -> RoleBinding:
    return RoleBinding(row.principal, row.role, row.models, row.created_at, row.created_by)
