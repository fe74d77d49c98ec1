"""Promotion rows: requests, their approvals, the stored policy, and the versions now in production."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, insert, or_, select, update

from modelreg.metadata import search
from modelreg.metadata.protocol import PromotionRow, StoredPolicy
from modelreg.metadata.tables import (
    models,
    promotion_approvals,
    promotion_policy,
    promotion_requests,
    versions,
)
from modelreg.types import Approval

__all__ = ["PromotionRows"]

_COLUMNS = (
    promotion_requests.c.id,
    promotion_requests.c.model_id,
    promotion_requests.c.version_id,
    models.c.name,
    versions.c.number,
    promotion_requests.c.target,
    promotion_requests.c.kind,
    promotion_requests.c.status,
    promotion_requests.c.requested_by,
    promotion_requests.c.requested_at,
    promotion_requests.c.comment,
    promotion_requests.c.expires_at,
    promotion_requests.c.approvals_required,
    promotion_requests.c.closed_at,
    promotion_requests.c.closed_by,
    promotion_requests.c.closed_comment,
)
_JOINED = promotion_requests.join(models, models.c.id == promotion_requests.c.model_id).join(
    versions, versions.c.id == promotion_requests.c.version_id
)


class PromotionRows:
    _c: Connection

    # The stored policy --------------------------------------------------------------------------------
    def stored_policy(self) -> StoredPolicy | None:
        query = select(promotion_policy.c.text, promotion_policy.c.updated_at, promotion_policy.c.updated_by)
        row = self._c.execute(query.where(promotion_policy.c.id == 1)).first()
        return None if row is None else StoredPolicy(*row)

    def put_policy(self, text: str, *, at: datetime, actor: str) -> None:
        values = {"text": text, "updated_at": at, "updated_by": actor}
        if self._c.execute(
            update(promotion_policy).where(promotion_policy.c.id == 1).values(**values)
        ).rowcount:
            return
        self._c.execute(insert(promotion_policy).values(id=1, **values))

    def delete_policy(self) -> bool:
        return bool(self._c.execute(delete(promotion_policy).where(promotion_policy.c.id == 1)).rowcount)

    # Requests ------------------------------------------------------------------------------------------
    def insert_promotion(
        self,
        *,
        model_id: int,
        version_id: int,
        target: str,
        kind: str,
        comment: str,
        approvals_required: int,
        at: datetime,
        expires_at: datetime,
        actor: str,
    ) -> int:
        values = {
            "model_id": model_id,
            "version_id": version_id,
            "target": target,
            "kind": kind,
            "status": "pending",
            "requested_by": actor,
            "requested_at": at,
            "comment": comment,
            "expires_at": expires_at,
            "approvals_required": approvals_required,
        }
        inserted = self._c.execute(insert(promotion_requests).values(**values)).inserted_primary_key
        assert inserted is not None  # a single-row INSERT always has one
        return int(inserted[0])

    def promotion(self, request_id: int) -> PromotionRow | None:
        query = select(*_COLUMNS).select_from(_JOINED).where(promotion_requests.c.id == request_id)
        row = self._c.execute(query).first()
        return None if row is None else _row(row)

    def promotions(
        self,
        *,
        model_id: int | None,
        status: str | None,
        now: datetime,
        limit: int,
        after: int,
        visible: Sequence[str] | None = None,
    ) -> list[PromotionRow]:
        """Requests by id descending below ``after`` (0: from the newest); ``status`` as reported, so
        'expired' includes pending requests past their expiry and 'pending' excludes them. Only live
        models' requests: deleting a model cancels its pending ones; ``promotion(id)`` still finds them."""
        query = select(*_COLUMNS).select_from(_JOINED).where(models.c.deleted_at.is_(None))
        if model_id is not None:
            query = query.where(promotion_requests.c.model_id == model_id)
        if after:
            query = query.where(promotion_requests.c.id < after)
        if visible is not None:  # access control: models the caller may read (modelreg.access)
            query = query.where(search.visible(models.c.name, visible, self._c.dialect.name))
        status_column, expires = promotion_requests.c.status, promotion_requests.c.expires_at
        if status == "pending":
            query = query.where(status_column == "pending", expires > now)
        elif status == "expired":
            query = query.where(
                or_(status_column == "expired", and_(status_column == "pending", expires <= now))
            )
        elif status is not None:
            query = query.where(status_column == status)
        query = query.order_by(promotion_requests.c.id.desc()).limit(limit)
        return [_row(row) for row in self._c.execute(query)]

    def approvals(self, request_ids: Sequence[int]) -> dict[int, list[Approval]]:
        found: dict[int, list[Approval]] = defaultdict(list)
        if not request_ids:
            return found
        query = (
            select(promotion_approvals)
            .where(promotion_approvals.c.request_id.in_(request_ids))
            .order_by(promotion_approvals.c.at, promotion_approvals.c.actor)
        )
        for row in self._c.execute(query):
            found[row.request_id].append(Approval(actor=row.actor, at=row.at, comment=row.comment))
        return found

    def add_approval(self, request_id: int, *, actor: str, at: datetime, comment: str) -> bool:
        """False when this actor already approved. Callers hold the model's lock, so the check and the
        insert cannot interleave with another approval of the request; the primary key backs that up."""
        where = and_(promotion_approvals.c.request_id == request_id, promotion_approvals.c.actor == actor)
        if self._c.execute(select(promotion_approvals.c.actor).where(where)).first() is not None:
            return False
        values = {"request_id": request_id, "actor": actor, "at": at, "comment": comment}
        self._c.execute(insert(promotion_approvals).values(**values))
        return True

    def close_promotion(
        self, request_id: int, status: str, *, at: datetime, actor: str, comment: str
    ) -> None:
        values: dict[str, Any] = {
            "status": status,
            "closed_at": at,
            "closed_by": actor,
            "closed_comment": comment,
        }
        self._c.execute(
            update(promotion_requests).where(promotion_requests.c.id == request_id).values(**values)
        )

    def stage_versions(self, model_id: int, stage: str) -> list[int]:
        """Ids of the model's live versions in ``stage``, by number."""
        query = (
            select(versions.c.id)
            .where(
                versions.c.model_id == model_id, versions.c.stage == stage, versions.c.deleted_at.is_(None)
            )
            .order_by(versions.c.number)
        )
        return list(self._c.execute(query).scalars())


def _row(row: Sequence[Any]) -> PromotionRow:
    return PromotionRow(*row)  # _COLUMNS are PromotionRow's fields, in order
