"""Model lifecycle use cases, mixed into ``Registry``: create an empty model, rename it, delete it.

    create_model(name)       model:write    a new, empty model; a deleted one of that name is revived
    rename_model(name, new)  model:rename   on both names; everything keyed by the model follows it
    delete_model(name)       model:delete   soft: every live version deleted, aliases removed, model hidden

**A deleted model keeps its row.** Its versions (marked deleted), their files, metadata and history, its
audit trail and its version counter stay; no lookup by name finds it any more (``get_model``, listings,
searches, ``get_version``, time travel: ``MODEL_NOT_FOUND``). Creating the name again, with
``create_model`` or a push, revives the same row as a new model (the description and tags given, created
now) whose numbers continue after the highest it ever had, so a number is never reused.

**Deleting** is guarded as deleting each version would be, and more, all under the model's row lock and in
one transaction with its audit event (``registry:model:delete``, listing the versions and aliases removed):

- a version under legal hold (live or already deleted) refuses it: ``VERSION_PROTECTED`` (``hold``);
- a deployment recorded as serving refuses it (``deployment``): once deleted, the model could not be named
  to record that deployment's end, so record it first;
- leaving a governed target (a protected alias, the production stage) needs what ``delete_version`` needs:
  where the policy wants approvals, ``promotion:emergency`` (which the built-in roles give every holder of
  ``model:delete``, so today this refuses nobody: it binds custom grants of the future);
- pending promotion requests of the model are cancelled (each audited ``registry:promotion:cancel``);
- the model's own retention policy is removed (a revived model starts under the global one). Its
  versions' files stay until retention purges them: the global policy's ``deleted_days`` rule selects the
  versions of deleted models too (``registry/retention.py``); without that rule they stay for good.

**Renaming** keeps the model's id, so aliases, versions, their history, holds, deployments, promotion
requests and its retention policy follow it; the new name must be free (of live and deleted models alike:
a deleted model's name is kept for its revival). Audit events keep the name each was recorded under; the
``registry:model:rename`` event (recorded under the new name) says ``before`` and ``after``. Names are what
access grants and promotion policies match (``risk-*``), so a rename can move a model across them; hence
``model:rename`` on both names. Afterwards every check uses the new name: a pending promotion request keeps
the number of approvals it was opened with (it never needs fewer than it asked), while the policy checks,
gates and archiving at apply time are those of the new name's rules, as for any request after a policy
change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from modelreg.access import Permission
from modelreg.errors import VersionProtected
from modelreg.metadata.protocol import MetadataSession, PromotionRow
from modelreg.registry import moves
from modelreg.registry.names import MAX_TAG_VALUE, check_description, check_model_name, check_strings
from modelreg.registry.retention import policy_rules
from modelreg.types import Model

if TYPE_CHECKING:
    from datetime import datetime

    from modelreg.registry.service import Registry

__all__ = ["CatalogCases"]

_CANCELLED = "model deleted"  # the comment on the pending promotion requests a model delete cancels


class CatalogCases:
    """create_model, rename_model, delete_model (``registry.catalog``)."""

    def create_model(self, name: str, *, description: str = "", tags: dict[str, str] | None = None) -> Model:
        """A new model without versions (``ModelAlreadyExists`` for a live one); a deleted model of that
        name is revived: same row, so its history goes on and its next version follows its highest."""
        registry = _registry(self)
        registry.actor.require(Permission.MODEL_WRITE, model=name)
        check_model_name(name)
        text = check_description(description)
        labels = check_strings("tag", tags, max_value=MAX_TAG_VALUE)
        with registry.metadata.session(write=True) as session:
            now = registry._now()
            _, revived = session.create_model(
                name, description=text, tags=labels, at=now, actor=registry.actor.name
            )
            registry._audit(
                session,
                now,
                "registry:model:create",
                name,
                name,
                description=text,
                tags=labels,
                revived=revived,
            )
            return _model(session, name)

    def rename_model(self, name: str, new_name: str) -> Model:
        """Give a model another name (``model:rename`` on both); ``ModelAlreadyExists`` when the new name is
        taken, by a live or a deleted model. Aliases, versions and history move with it."""
        registry = _registry(self)
        registry.actor.require(Permission.MODEL_RENAME, model=name)
        registry.actor.require(Permission.MODEL_RENAME, model=new_name)
        check_model_name(name)
        check_model_name(new_name)
        with registry.metadata.session(write=True) as session:
            model_id = registry._model_id(session, name, lock=True)
            now = registry._now()
            session.rename_model(model_id, new_name, at=now)
            registry._audit(
                session, now, "registry:model:rename", new_name, new_name, before=name, after=new_name
            )
            return _model(session, new_name)

    def delete_model(self, name: str) -> None:
        """Soft-delete a model and every live version of it (see the module docstring for the guards)."""
        registry = _registry(self)
        registry.actor.require(Permission.MODEL_DELETE, model=name)
        check_model_name(name)
        with registry.metadata.session(write=True) as session:
            model_id = registry._model_id(session, name, lock=True)
            aliases = sorted(_model(session, name).aliases)
            _guard(registry, session, name, model_id, aliases)
            now = registry._now(*(session.alias_since(model_id, alias) for alias in aliases))
            cancelled = _cancel_requests(registry, session, model_id, now)
            policy = session.retention_policy(model_id)
            if policy is not None:
                session.delete_retention_policy(model_id)
            numbers = session.mark_model_deleted(model_id, at=now, actor=registry.actor.name)
            # Audit events last: each takes the chain's lock, after every row lock of the model's.
            for row in cancelled:
                registry._audit(
                    session, now, "registry:promotion:cancel", name, f"promotion:{row.id}",
                    request_id=row.id, version=row.version, to=row.target, comment=_CANCELLED,
                )  # fmt: skip
            registry._audit(
                session, now, "registry:model:delete", name, name,
                versions_deleted=numbers, aliases_removed=aliases,
                promotions_cancelled=[row.id for row in cancelled], retention_removed=policy_rules(policy),
            )  # fmt: skip


def _registry(cases: CatalogCases) -> Registry:
    return cast("Registry", cases)


def _model(session: MetadataSession, name: str) -> Model:
    model = session.model(name)
    assert model is not None  # read in the transaction that created, renamed or locked it
    return model


def _guard(
    registry: Registry, session: MetadataSession, name: str, model_id: int, aliases: list[str]
) -> None:
    """Refuse the delete (nothing changed yet) for a hold, a recorded deployment, or a governed target the
    actor may not leave."""
    held = [hold.version for hold in session.holds(model_id)]
    if held:
        raise VersionProtected(
            f"model {name!r} cannot be deleted: {_versions(name, held)} under legal hold",
            details={"reasons": ["hold"], "versions": held},
        )
    serving = session.deployments_at(at=None, environment=None, model_id=model_id)
    if serving:
        places = [row.environment + (f" ({row.endpoint})" if row.endpoint else "") for row in serving]
        raise VersionProtected(
            f"model {name!r} cannot be deleted: it is recorded as serving {', '.join(places)}; record the "
            "end of each deployment first",
            details={"reasons": ["deployment"], "deployments": places},
        )
    production = ["production"] if session.stage_versions(model_id, "production") else []
    moves.guard_leave(registry, session, name=name, targets=[*(f"@{a}" for a in aliases), *production])


def _cancel_requests(
    registry: Registry, session: MetadataSession, model_id: int, now: datetime
) -> list[PromotionRow]:
    """Close the model's pending requests as cancelled: nobody could approve them once it is gone."""
    pending = session.promotions(model_id=model_id, status="pending", now=now, limit=1_000_000, after=0)
    for row in pending:
        session.close_promotion(row.id, "cancelled", at=now, actor=registry.actor.name, comment=_CANCELLED)
    return pending


def _versions(name: str, numbers: list[int]) -> str:
    labels = ", ".join(f"{name}/{number}" for number in numbers[:10])
    return labels + (f" and {len(numbers) - 10} more" if len(numbers) > 10 else "")
