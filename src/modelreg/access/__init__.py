"""Who may do what: actors, roles, role grants on model-name patterns, and the permission vocabulary.

Checked once, inside each registry use case, for every surface (SDK, CLI, REST). A role is a set of
``resource:action`` permissions:

    viewer       model:read, tracking:read, version:pull
    contributor  viewer + alias:write, deployment:write, model:write, promotion:request, stage:write,
                 tracking:write, version:create
    approver     viewer + promotion:approve
    admin        every permission, including access:admin, audit:read, model:delete, model:rename,
                 policy:admin, promotion:emergency, retention:admin, storage:admin, token:admin,
                 version:delete, version:hold, version:import

An ``Actor`` holds a global role (a token's own role, or "none") and ``Grant``s: a role on the models whose
names match a glob (``risk-*``; ``*`` any run of characters, ``?`` one). A grant on ``*`` is as good as the
global role; a narrower grant never covers a model-less operation (tokens, gc, the audit log, access
management). Listings ask ``scope`` for the patterns to filter on in SQL (DESIGN invariant 5).

``docs/permissions.md`` is generated from this module (``python -m modelreg.reference_docs``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from fnmatch import fnmatchcase

from modelreg.errors import InvalidInput, PermissionDenied

__all__ = [
    "ALL_MODELS",
    "NO_ROLE",
    "PERMISSION_HELP",
    "ROLES",
    "Actor",
    "Grant",
    "Permission",
    "check_models",
    "check_role",
]


class Permission(StrEnum):
    """Alphabetised; ``PERMISSION_HELP`` says what each allows (docs/permissions.md is generated)."""

    ACCESS_ADMIN = "access:admin"
    ALIAS_WRITE = "alias:write"
    AUDIT_READ = "audit:read"
    DEPLOYMENT_WRITE = "deployment:write"
    MODEL_DELETE = "model:delete"
    MODEL_READ = "model:read"
    MODEL_RENAME = "model:rename"
    MODEL_WRITE = "model:write"
    POLICY_ADMIN = "policy:admin"
    PROMOTION_APPROVE = "promotion:approve"
    PROMOTION_EMERGENCY = "promotion:emergency"
    PROMOTION_REQUEST = "promotion:request"
    RETENTION_ADMIN = "retention:admin"
    STAGE_WRITE = "stage:write"
    STORAGE_ADMIN = "storage:admin"
    TOKEN_ADMIN = "token:admin"  # noqa: S105 - a permission name, not a password
    TRACKING_READ = "tracking:read"
    TRACKING_WRITE = "tracking:write"
    VERSION_CREATE = "version:create"
    VERSION_DELETE = "version:delete"
    VERSION_HOLD = "version:hold"
    VERSION_IMPORT = "version:import"
    VERSION_PULL = "version:pull"


PERMISSION_HELP: dict[Permission, str] = {
    Permission.ACCESS_ADMIN: "Users, groups and role bindings: create, delete, grant, revoke, list.",
    Permission.ALIAS_WRITE: "Set, move and delete aliases (protected ones: see promotion).",
    Permission.AUDIT_READ: "The audit log: list, export, verify.",
    Permission.DEPLOYMENT_WRITE: "Record which version serves where (CI/CD, serving systems).",
    Permission.MODEL_READ: "Models, versions, metadata, lineage, history, search, deployments.",
    Permission.MODEL_DELETE: "Delete models (soft: versions deleted, history kept, numbers never reused).",
    Permission.MODEL_RENAME: "Rename models (needed on the old and the new name).",
    Permission.MODEL_WRITE: "Tags and descriptions; create an empty model.",
    Permission.POLICY_ADMIN: "Promotion policies: set and remove.",
    Permission.PROMOTION_APPROVE: "Approve or reject others' promotion requests.",
    Permission.PROMOTION_EMERGENCY: "Roll back a protected alias without approvals (audited).",
    Permission.PROMOTION_REQUEST: "Ask to promote a version (and cancel one's own requests).",
    Permission.RETENTION_ADMIN: "Retention policies, applying them, purging versions.",
    Permission.STAGE_WRITE: "Move versions between stages (governed stages: see promotion).",
    Permission.STORAGE_ADMIN: "Garbage collection of the chunk store.",
    Permission.TOKEN_ADMIN: "Create, list and revoke API tokens.",
    Permission.TRACKING_READ: "MLflow experiments, runs, logged models and their artifacts: read.",
    Permission.TRACKING_WRITE: "MLflow experiments, runs, logged models: create, log, upload artifacts.",
    Permission.VERSION_CREATE: "Push: upload chunks and commit versions.",
    Permission.VERSION_DELETE: "Soft-delete versions.",
    Permission.VERSION_HOLD: "Legal holds: set and remove.",
    Permission.VERSION_IMPORT: "Register versions under given numbers (imports from another registry).",
    Permission.VERSION_PULL: "Download files and chunks.",
}

_VIEWER = frozenset({Permission.MODEL_READ, Permission.TRACKING_READ, Permission.VERSION_PULL})
_CONTRIBUTOR = _VIEWER | {
    Permission.ALIAS_WRITE,
    Permission.DEPLOYMENT_WRITE,
    Permission.MODEL_WRITE,
    Permission.PROMOTION_REQUEST,
    Permission.STAGE_WRITE,
    Permission.TRACKING_WRITE,
    Permission.VERSION_CREATE,
}
ROLES: dict[str, frozenset[Permission]] = {
    "viewer": _VIEWER,
    "contributor": frozenset(_CONTRIBUTOR),
    "approver": _VIEWER | {Permission.PROMOTION_APPROVE},
    "admin": frozenset(Permission),
}


ALL_MODELS = "*"
NO_ROLE = "none"  # a token's role when it should hold only its (or its user's) bindings
# Model-name characters (DESIGN §1) plus the two wildcards; no '[' classes, so a pattern means the same
# to fnmatch, SQLite GLOB and the LIKE it is translated to on PostgreSQL.
_PATTERN = re.compile(r"[A-Za-z0-9._*?-]{1,128}")


def check_role(role: object, *, none_ok: bool = False) -> str:
    """A role name; ``none_ok``: also "none" (no global role: tokens that rely on bindings alone)."""
    known = [*ROLES, NO_ROLE] if none_ok else list(ROLES)
    if not isinstance(role, str) or role not in known:
        raise InvalidInput(f"invalid role {str(role)[:40]!r}: expected one of {', '.join(known)}")
    return str(role)


def check_models(pattern: object) -> str:
    """A model-name pattern: 1-128 model-name characters, ``*`` (any run) and ``?`` (one character)."""
    if not isinstance(pattern, str) or not _PATTERN.fullmatch(pattern):
        raise InvalidInput(
            f"invalid model pattern {str(pattern)[:200]!r}: use 1-128 letters, digits, '.', '_', '-' "
            "and the wildcards '*' and '?'"
        )
    return pattern


@dataclass(frozen=True, slots=True)
class Grant:
    """A role on the models whose names match ``models`` (validated: bad input never reaches SQL)."""

    role: str
    models: str = ALL_MODELS

    def __post_init__(self) -> None:
        check_role(self.role)
        check_models(self.models)

    def covers(self, model: str | None) -> bool:
        """Every model for ``*`` (model-less operations too); otherwise only a model whose name matches."""
        if self.models == ALL_MODELS:
            return True
        return isinstance(model, str) and fnmatchcase(model, self.models)

    def __str__(self) -> str:
        return self.role if self.models == ALL_MODELS else f"{self.role} on {self.models}"


@dataclass(frozen=True, slots=True)
class Actor:
    """A user or token acting on the registry; ``name`` is what the audit trail records.

    ``role`` is the global role ("none" for a principal that holds only grants); ``grants`` come from role
    bindings of the user or token and of its groups, resolved once when the caller is authenticated."""

    name: str
    role: str = "admin"
    grants: tuple[Grant, ...] = ()

    def can(self, permission: Permission, model: str | None = None) -> bool:
        if permission in ROLES.get(self.role, frozenset()):
            return True
        return any(permission in ROLES[grant.role] and grant.covers(model) for grant in self.grants)

    def require(self, permission: Permission, model: str | None = None) -> None:
        """Raise ``PermissionDenied`` unless the actor holds ``permission`` (on model ``model``, if given).

        Called before the model is looked up, so a refusal never reveals whether the model exists."""
        if not self.can(permission, model):
            where = "" if model is None else f" on model {model!r}"
            raise PermissionDenied(
                f"{self.name} ({self.describe()}) lacks the {permission} permission{where}",
                details={"permission": str(permission), "role": self.role, "model": model},
            )

    def require_somewhere(self, permission: Permission) -> None:
        """Held on at least one model: for steps whose model is checked later (uploading chunks before
        the commit that names the model)."""
        if self.scope(permission) != ():
            return
        raise PermissionDenied(
            f"{self.name} ({self.describe()}) lacks the {permission} permission on every model",
            details={"permission": str(permission), "role": self.role, "model": None},
        )

    def scope(self, permission: Permission) -> tuple[str, ...] | None:
        """Where ``permission`` is held: None on every model, else the name patterns (maybe none)."""
        if self.can(permission):
            return None
        held = {grant.models for grant in self.grants if permission in ROLES[grant.role]}
        return tuple(sorted(held))

    def describe(self) -> str:
        """The global role and the grants, for messages: ``none; contributor on risk-*``."""
        return "; ".join([self.role, *(str(grant) for grant in self.grants)])
