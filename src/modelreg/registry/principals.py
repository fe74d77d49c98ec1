"""Access control management: users, groups, memberships and role bindings; and who a caller is.

    principal      user:alice · group:risk-team · token:ci   (text everywhere: API paths, CLI, storage)
    role binding   (principal, role, models pattern)           e.g. (group:risk-team, contributor, risk-*)
    member         a group holds users and tokens (not groups: one level, so one query resolves a caller)

An actor's grants are the bindings of the principals it stands for and of their groups, read once when the
caller is authenticated (``token_actor``, ``local_actor``): a change applies to the next request (HTTP) or
the next ``connect`` (embedded).

A token created for a user acts AS that user (the audit trail names the person) with the token's own role,
the user's bindings and those of the user's groups; a token without a user acts as ``token:NAME`` with its
role and the bindings of ``token:NAME`` and its groups. Embedded, the local user is admin unless the
registry defines a user of that name: then it has that user's bindings and no global role.

Management needs ``access:admin`` and is audited (``registry:user:create`` …) in the same transaction.
Re-granting an existing binding or re-adding a member changes nothing and records nothing.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal, TypeVar, cast

from modelreg.access import ALL_MODELS, Actor, Grant, Permission, check_models, check_role
from modelreg.errors import InvalidInput, PrincipalAlreadyExists, PrincipalNotFound, RoleBindingNotFound
from modelreg.metadata.protocol import MetadataSession, MetadataStore
from modelreg.types import Group, RoleBinding, Token, User

if TYPE_CHECKING:
    from modelreg.registry.service import Registry

__all__ = ["PrincipalCases", "check_principal", "local_actor", "token_actor"]

KINDS = ("user", "group", "token")
_Named = TypeVar("_Named", User, Group)
# Token names' alphabet, plus '@' so that users can be e-mail addresses.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,127}")


def check_principal_name(kind: str, name: object) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInput(
            f"invalid {kind} name {str(name)[:200]!r}: use 1-128 letters, digits, '.', '_', '@' or '-'"
        )
    return name


def check_principal(principal: object, *, kinds: tuple[str, ...] = KINDS) -> str:
    """``kind:name`` with a known kind and a valid name."""
    text = str(principal)[:200]
    kind, colon, name = text.partition(":") if isinstance(principal, str) else ("", "", "")
    if not colon or kind not in kinds:
        expected = " or ".join(f"{k}:NAME" for k in kinds)
        raise InvalidInput(f"invalid principal {text!r}: expected {expected}")
    return f"{kind}:{check_principal_name(kind, name)}"


def token_actor(session: MetadataSession, token: Token) -> Actor:
    """The actor a (valid) token stands for: see the module docstring."""
    principals = [f"user:{token.user}"] if token.user is not None else [token.actor]
    name = token.user if token.user is not None else token.actor
    return Actor(name, role=token.role, grants=_grants(session, principals))


def local_actor(metadata: MetadataStore, name: str) -> Actor:
    """The embedded SDK's actor: admin, unless the registry defines a user ``name``."""
    with metadata.session() as session:
        if not session.principal_exists(f"user:{name}"):
            return Actor(name, role="admin")
        return Actor(name, role="none", grants=_grants(session, [f"user:{name}"]))


def _grants(session: MetadataSession, principals: list[str]) -> tuple[Grant, ...]:
    return tuple(Grant(role, models) for role, models in session.grants_of(principals))


class PrincipalCases:
    """The use cases of this module, mixed into ``Registry``; each requires ``access:admin``."""

    # Users and groups -------------------------------------------------------------------------------------
    def create_user(self, name: str) -> User:
        self._create("user", name)
        return _one(self.list_users(), name)

    def delete_user(self, name: str) -> None:
        """Delete a user with its bindings and memberships, and revoke the tokens that act as it."""
        self._delete("user", name)

    def list_users(self) -> list[User]:
        registry = _registry(self)
        registry.actor.require(Permission.ACCESS_ADMIN)
        with registry.metadata.session() as session:
            return session.users()

    def create_group(self, name: str) -> Group:
        self._create("group", name)
        return _one(self.list_groups(), name)

    def delete_group(self, name: str) -> None:
        """Delete a group with its memberships and bindings (its members lose what it granted)."""
        self._delete("group", name)

    def list_groups(self) -> list[Group]:
        registry = _registry(self)
        registry.actor.require(Permission.ACCESS_ADMIN)
        with registry.metadata.session() as session:
            return session.groups()

    def add_group_member(self, group: str, member: str) -> Group:
        """Add a user or token (``user:alice``, ``token:ci``) to a group; a member already in is kept."""
        registry = _registry(self)
        registry.actor.require(Permission.ACCESS_ADMIN)
        check_principal_name("group", group)
        member = check_principal(member, kinds=("user", "token"))
        with registry.metadata.session(write=True) as session:
            _check_exists(session, member)
            now = registry._now()
            added = session.add_member(group, member, at=now, actor=registry.actor.name)
            if added is None:
                raise PrincipalNotFound(f"group {group!r} not found")
            if added:
                registry._audit(
                    session, now, "registry:group:member-add", None, f"group:{group}", member=member
                )
        return _one(self.list_groups(), group)

    def remove_group_member(self, group: str, member: str) -> Group:
        registry = _registry(self)
        registry.actor.require(Permission.ACCESS_ADMIN)
        check_principal_name("group", group)
        member = check_principal(member, kinds=("user", "token"))
        with registry.metadata.session(write=True) as session:
            _check_exists(session, f"group:{group}")
            if not session.remove_member(group, member):
                raise PrincipalNotFound(f"{member} is not a member of group {group!r}")
            now = registry._now()
            registry._audit(
                session, now, "registry:group:member-remove", None, f"group:{group}", member=member
            )
        return _one(self.list_groups(), group)

    # Role bindings ----------------------------------------------------------------------------------------
    def grant(self, role: str, principal: str, *, models: str = ALL_MODELS) -> RoleBinding:
        """Bind ``role`` to a user, group or token on the models matching ``models`` (``*``: all)."""
        registry = _registry(self)
        registry.actor.require(Permission.ACCESS_ADMIN)
        check_role(role)
        principal = check_principal(principal)
        check_models(models)
        with registry.metadata.session(write=True) as session:
            _check_exists(session, principal)
            now = registry._now()
            binding = RoleBinding(principal, role, models, now, registry.actor.name)
            if session.insert_binding(binding):
                registry._audit(
                    session, now, "registry:role:grant", None, principal, role=role, models=models
                )
            return next(b for b in session.bindings(principal) if (b.role, b.models) == (role, models))

    def revoke(self, role: str, principal: str, *, models: str = ALL_MODELS) -> None:
        registry = _registry(self)
        registry.actor.require(Permission.ACCESS_ADMIN)
        check_role(role)
        principal = check_principal(principal)
        check_models(models)
        with registry.metadata.session(write=True) as session:
            if not session.delete_binding(principal, role, models):
                raise RoleBindingNotFound(f"{principal} holds no {role} binding on {models!r}")
            now = registry._now()
            registry._audit(session, now, "registry:role:revoke", None, principal, role=role, models=models)

    def list_bindings(self, principal: str | None = None) -> list[RoleBinding]:
        registry = _registry(self)
        registry.actor.require(Permission.ACCESS_ADMIN)
        checked = None if principal is None else check_principal(principal)
        with registry.metadata.session() as session:
            return session.bindings(checked)

    # Helpers ----------------------------------------------------------------------------------------------
    def _create(self, kind: Literal["user", "group"], name: str) -> None:
        registry = _registry(self)
        registry.actor.require(Permission.ACCESS_ADMIN)
        check_principal_name(kind, name)
        with registry.metadata.session(write=True) as session:
            now = registry._now()
            if not session.insert_principal(kind, name, at=now, actor=registry.actor.name):
                raise PrincipalAlreadyExists(f"{kind} {name!r} already exists")
            registry._audit(session, now, f"registry:{kind}:create", None, f"{kind}:{name}")

    def _delete(self, kind: Literal["user", "group"], name: str) -> None:
        registry = _registry(self)
        registry.actor.require(Permission.ACCESS_ADMIN)
        check_principal_name(kind, name)
        with registry.metadata.session(write=True) as session:
            now = registry._now()
            if not session.delete_principal(kind, name):
                raise PrincipalNotFound(f"{kind} {name!r} not found")
            revoked = (
                session.revoke_user_tokens(name, at=now, actor=registry.actor.name) if kind == "user" else 0
            )
            extra = {"tokens_revoked": revoked} if kind == "user" else {}
            registry._audit(session, now, f"registry:{kind}:delete", None, f"{kind}:{name}", **extra)


def _check_exists(session: MetadataSession, principal: str) -> None:
    if not session.principal_exists(principal):
        kind, _, name = principal.partition(":")
        what = "no active token named" if kind == "token" else f"{kind}"
        raise PrincipalNotFound(f"{what} {name!r}" + ("" if kind == "token" else " not found"))


def _one(items: list[_Named], name: str) -> _Named:
    return next(item for item in items if item.name == name)


def _registry(cases: PrincipalCases) -> Registry:
    return cast("Registry", cases)
