"""Who may do what: actors, roles and the ``resource:action`` permission vocabulary.

Checked once, inside each registry use case, for every surface (SDK, CLI, REST). Roles for now are global:

    viewer       model:read, version:pull
    contributor  viewer + alias:write, model:write, stage:write, version:create
    admin        contributor + storage:admin, token:admin, version:delete
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from modelreg.errors import InvalidInput, PermissionDenied

__all__ = ["ROLES", "Actor", "Permission", "check_role"]


class Permission(StrEnum):
    """Alphabetised; ``docs/permissions.md`` is generated from this enum."""

    ALIAS_WRITE = "alias:write"
    MODEL_READ = "model:read"
    MODEL_WRITE = "model:write"
    STAGE_WRITE = "stage:write"
    STORAGE_ADMIN = "storage:admin"  # garbage collection of the chunk store
    TOKEN_ADMIN = "token:admin"  # noqa: S105 - a permission name, not a password
    VERSION_CREATE = "version:create"
    VERSION_DELETE = "version:delete"
    VERSION_PULL = "version:pull"


_VIEWER = frozenset({Permission.MODEL_READ, Permission.VERSION_PULL})
_CONTRIBUTOR = _VIEWER | {
    Permission.ALIAS_WRITE,
    Permission.MODEL_WRITE,
    Permission.STAGE_WRITE,
    Permission.VERSION_CREATE,
}
ROLES: dict[str, frozenset[Permission]] = {
    "viewer": _VIEWER,
    "contributor": frozenset(_CONTRIBUTOR),
    "admin": frozenset(Permission),
}


def check_role(role: object) -> str:
    if not isinstance(role, str) or role not in ROLES:
        raise InvalidInput(f"invalid role {str(role)[:40]!r}: expected one of {', '.join(ROLES)}")
    return str(role)


@dataclass(frozen=True, slots=True)
class Actor:
    """A user or token acting on the registry; ``name`` is what the audit trail records."""

    name: str
    role: str = "admin"

    def can(self, permission: Permission) -> bool:
        return permission in ROLES.get(self.role, frozenset())

    def require(self, permission: Permission) -> None:
        if not self.can(permission):
            raise PermissionDenied(
                f"{self.name} ({self.role}) lacks the {permission} permission",
                details={"permission": str(permission), "role": self.role},
            )
