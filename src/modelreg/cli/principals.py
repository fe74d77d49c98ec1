"""``modelreg user | group | role``: who may do what, on which models (admins: access:admin).

Thin over the SDK like every command. Principals are written ``user:alice``, ``group:risk-team`` or
``token:ci``; a role is bound on a model-name pattern (``--models 'risk-*'``; default ``*``: every model).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from modelreg.cli.output import emit_json, say
from modelreg.cli.params import JsonFlag
from modelreg.cli.session import Session

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = ["group_app", "role_app", "user_app"]

user_app = typer.Typer(help="Users (user:NAME): add, remove, list.", no_args_is_help=True)
group_app = typer.Typer(help="Groups (group:NAME) and their members.", no_args_is_help=True)
member_app = typer.Typer(help="Group members: user:NAME or token:NAME.", no_args_is_help=True)
role_app = typer.Typer(help="Role bindings: grant, revoke, list.", no_args_is_help=True)
group_app.add_typer(member_app, name="member")

Role = Literal["viewer", "contributor", "approver", "admin"]
_Name = Annotated[str, typer.Argument(metavar="NAME", help="Letters, digits, '.', '_', '@' or '-'.")]
_Group = Annotated[str, typer.Argument(metavar="GROUP", help="Group name.")]
_Member = Annotated[str, typer.Argument(metavar="MEMBER", help="user:NAME or token:NAME.")]
_Principal = Annotated[str, typer.Argument(metavar="PRINCIPAL", help="user:NAME, group:NAME or token:NAME.")]
_Models = Annotated[
    str, typer.Option("--models", metavar="PATTERN", help="Model names: '*' (all), 'risk-*', 'a?c'.")
]


@user_app.command("add")
def add_user(ctx: typer.Context, *, name: _Name, json_output: JsonFlag = False) -> None:
    """Create a user; tokens created with --user NAME act as it."""
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        user = registry.create_user(name)
    emit_json(user.to_dict()) if session.json else say(f"created user {user.name}")


@user_app.command("rm")
def remove_user(ctx: typer.Context, *, name: _Name, json_output: JsonFlag = False) -> None:
    """Delete a user, its bindings and memberships; the tokens that act as it are revoked."""
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        registry.delete_user(name)
    emit_json({"deleted": f"user:{name}"}) if session.json else say(f"deleted user {name}")


@user_app.command("list")
def list_users(ctx: typer.Context, *, json_output: JsonFlag = False) -> None:
    """Every user, with its groups."""
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        found = registry.list_users()
    if session.json:
        emit_json([user.to_dict() for user in found])
        return
    _table(("USER", "GROUPS", "CREATED BY"), ((u.name, ", ".join(u.groups), u.created_by) for u in found))


@group_app.command("add")
def add_group(ctx: typer.Context, *, name: _Name, json_output: JsonFlag = False) -> None:
    """Create a group."""
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        group = registry.create_group(name)
    emit_json(group.to_dict()) if session.json else say(f"created group {group.name}")


@group_app.command("rm")
def remove_group(ctx: typer.Context, *, name: _Name, json_output: JsonFlag = False) -> None:
    """Delete a group with its memberships and bindings."""
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        registry.delete_group(name)
    emit_json({"deleted": f"group:{name}"}) if session.json else say(f"deleted group {name}")


@group_app.command("list")
def list_groups(ctx: typer.Context, *, json_output: JsonFlag = False) -> None:
    """Every group, with its members."""
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        found = registry.list_groups()
    if session.json:
        emit_json([group.to_dict() for group in found])
        return
    _table(("GROUP", "MEMBERS", "CREATED BY"), ((g.name, ", ".join(g.members), g.created_by) for g in found))


@member_app.command("add")
def add_member(ctx: typer.Context, *, group: _Group, member: _Member, json_output: JsonFlag = False) -> None:
    """Add a user or token to a group (it then holds the group's bindings)."""
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        changed = registry.add_group_member(group, member)
    emit_json(changed.to_dict()) if session.json else say(f"{member} is a member of group {group}")


@member_app.command("rm")
def remove_member(
    ctx: typer.Context, *, group: _Group, member: _Member, json_output: JsonFlag = False
) -> None:
    """Remove a member from a group."""
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        changed = registry.remove_group_member(group, member)
    emit_json(changed.to_dict()) if session.json else say(f"removed {member} from group {group}")


@role_app.command("grant")
def grant(
    ctx: typer.Context,
    *,
    role: Annotated[Role, typer.Argument(metavar="ROLE", help="viewer, contributor, approver or admin.")],
    principal: _Principal,
    models: _Models = "*",
    json_output: JsonFlag = False,
) -> None:
    """Bind ROLE to PRINCIPAL on the models matching --models."""
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        binding = registry.grant(role, principal, models=models)
    emit_json(binding.to_dict()) if session.json else say(f"granted {role} on {models} to {principal}")


@role_app.command("revoke")
def revoke(
    ctx: typer.Context,
    *,
    role: Annotated[Role, typer.Argument(metavar="ROLE", help="viewer, contributor, approver or admin.")],
    principal: _Principal,
    models: _Models = "*",
    json_output: JsonFlag = False,
) -> None:
    """Remove the binding of ROLE on --models from PRINCIPAL."""
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        registry.revoke(role, principal, models=models)
    revoked = {"revoked": {"role": role, "principal": principal, "models": models}}
    emit_json(revoked) if session.json else say(f"revoked {role} on {models} from {principal}")


@role_app.command("list")
def list_bindings(
    ctx: typer.Context,
    *,
    principal: Annotated[
        str | None, typer.Argument(metavar="[PRINCIPAL]", help="Only this principal's bindings.")
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Role bindings (a group's members hold its bindings too)."""
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        found = registry.list_bindings(principal)
    if session.json:
        emit_json([binding.to_dict() for binding in found])
        return
    _table(
        ("PRINCIPAL", "ROLE", "MODELS", "BY"), ((b.principal, b.role, b.models, b.created_by) for b in found)
    )


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for header in headers:
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    Console(highlight=False).print(table)
