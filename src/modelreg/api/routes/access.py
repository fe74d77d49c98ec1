"""Access control (admins: access:admin): users, groups and their members, role bindings.

Principals travel as text: ``user:alice``, ``group:risk-team``, ``token:ci``. Revoking a binding is a POST
(``/bindings/revoke``) because the binding is identified by a body, not by a path.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from modelreg.api.auth import CallerRegistry
from modelreg.api.responses import ERRORS, answers, items, one
from modelreg.api.schemas import BindingBody, BindingList, GroupList, PrincipalBody, UserList
from modelreg.types import Group, RoleBinding, User

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/access", tags=["access"], responses=ERRORS)

_Name = Annotated[str, Path(description="User or group name.")]
_Member = Annotated[str, Path(description="user:NAME or token:NAME.")]


@router.post("/users", **answers(User, 201))
def create_user(registry: CallerRegistry, body: PrincipalBody) -> Response:
    """Create a user; tokens created with ``user`` act as it. 409 PRINCIPAL_ALREADY_EXISTS if taken."""
    return one(registry.create_user(body.name), 201)


@router.get("/users", **answers(UserList))
def list_users(registry: CallerRegistry) -> Response:
    """Every user, by name, with the groups it belongs to."""
    return items(registry.list_users())


@router.delete("/users/{name}", status_code=204, response_class=Response)
def delete_user(registry: CallerRegistry, name: _Name) -> Response:
    """Delete a user with its bindings and memberships, and revoke the tokens that act as it."""
    registry.delete_user(name)
    return Response(status_code=204)


@router.post("/groups", **answers(Group, 201))
def create_group(registry: CallerRegistry, body: PrincipalBody) -> Response:
    """Create a group. 409 PRINCIPAL_ALREADY_EXISTS if taken."""
    return one(registry.create_group(body.name), 201)


@router.get("/groups", **answers(GroupList))
def list_groups(registry: CallerRegistry) -> Response:
    """Every group, by name, with its members."""
    return items(registry.list_groups())


@router.delete("/groups/{name}", status_code=204, response_class=Response)
def delete_group(registry: CallerRegistry, name: _Name) -> Response:
    """Delete a group with its memberships and bindings."""
    registry.delete_group(name)
    return Response(status_code=204)


@router.put("/groups/{name}/members/{member}", **answers(Group))
def add_group_member(registry: CallerRegistry, name: _Name, member: _Member) -> Response:
    """Add a user or token to the group (a member already in stays, unchanged); answers the group."""
    return one(registry.add_group_member(name, member))


@router.delete("/groups/{name}/members/{member}", **answers(Group))
def remove_group_member(registry: CallerRegistry, name: _Name, member: _Member) -> Response:
    """Remove a member; answers the group. 404 PRINCIPAL_NOT_FOUND when it is not a member."""
    return one(registry.remove_group_member(name, member))


@router.post("/bindings", **answers(RoleBinding))
def grant(registry: CallerRegistry, body: BindingBody) -> Response:
    """Bind a role to a principal on a model-name pattern (granting an existing binding changes nothing)."""
    return one(registry.grant(body.role, body.principal, models=body.models))


@router.post("/bindings/revoke", status_code=204, response_class=Response)
def revoke(registry: CallerRegistry, body: BindingBody) -> Response:
    """Remove a binding. 404 ROLE_BINDING_NOT_FOUND when the principal does not hold it."""
    registry.revoke(body.role, body.principal, models=body.models)
    return Response(status_code=204)


@router.get("/bindings", **answers(BindingList))
def list_bindings(
    registry: CallerRegistry,
    principal: Annotated[str | None, Query(description="Only this principal's bindings.")] = None,
) -> Response:
    """Role bindings, by principal, role and pattern (a group's members hold its bindings too)."""
    return items(registry.list_bindings(principal))
