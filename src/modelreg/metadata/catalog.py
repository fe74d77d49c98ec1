"""Model rows: create (or revive), rename, soft-delete, and the version counter (rules: registry/catalog.py).

A model's row is never removed. Deleting a model marks it (``deleted_at``) with every live version, removes
its aliases and closes their history intervals; every read by name then skips it (``model_id``, the key
statements, listings and searches filter on ``deleted_at IS NULL``). Creating the name again revives the
same row, so its history, audit trail and ``last_version`` counter go on: numbers are never reused.

Writers hold the model's row lock: every method here takes it (or is called with it held), so a revive, a
rename, a delete and a commit of one model take turns.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from modelreg.errors import ModelAlreadyExists, VersionExists
from modelreg.metadata.tables import alias_history, aliases, model_tags, models, versions

__all__ = ["CatalogRows"]


class CatalogRows:
    _c: Connection
    _insert: Callable[[Table], Any]  # SqlSession's INSERT … ON CONFLICT of its own dialect

    def ensure_model(self, name: str, *, at: datetime, actor: str) -> tuple[int, bool]:
        """The live model's id, locked; a deleted one is revived (blank description, no tags) and an absent
        one created. ``created`` is True for both: a push that revives a model creates it again."""
        return self._claim(name, at=at, actor=actor, description="", tags={}, exist_ok=True)[:2]

    def create_model(
        self, name: str, *, description: str, tags: dict[str, str], at: datetime, actor: str
    ) -> tuple[int, bool]:
        """(id, revived); ``ModelAlreadyExists`` when a live model has the name."""
        model_id, _, revived = self._claim(
            name, at=at, actor=actor, description=description, tags=tags, exist_ok=False
        )
        return model_id, revived

    def _claim(
        self,
        name: str,
        *,
        at: datetime,
        actor: str,
        description: str,
        tags: dict[str, str],
        exist_ok: bool,
    ) -> tuple[int, bool, bool]:
        """(id, created, revived), the row locked. The common case (a live model) is one locking read; an
        INSERT that loses a race to another creator finds the winner's row on the second pass."""
        for _ in range(2):
            found = self._c.execute(
                select(models.c.id, models.c.deleted_at).where(models.c.name == name).with_for_update()
            ).first()
            if found is not None and found.deleted_at is None:
                if not exist_ok:
                    raise ModelAlreadyExists(f"model {name!r} already exists")
                return found.id, False, False
            if found is not None:
                self._revive(found.id, at=at, actor=actor, description=description, tags=tags)
                return found.id, True, True
            row = {"name": name, "description": description, "created_at": at, "created_by": actor}
            statement = (
                self._insert(models)
                .values(**row, updated_at=at)
                .on_conflict_do_nothing(index_elements=["name"])
                .returning(models.c.id)  # a row comes back only when inserted (psycopg reports rowcount -1)
            )
            model_id = self._c.execute(statement).scalar()
            if model_id is not None:
                self._set_tags(model_id, tags)
                return model_id, True, False
        raise AssertionError("unreachable: the conflicting row is found and locked on the second pass")

    def _revive(
        self, model_id: int, *, at: datetime, actor: str, description: str, tags: dict[str, str]
    ) -> None:
        """The row comes back as a new model: its description and tags are the new ones, its creation is now;
        ``last_version`` stays, as do its versions (deleted) and their history."""
        values = {"description": description, "created_at": at, "created_by": actor, "updated_at": at}
        self._c.execute(
            update(models).where(models.c.id == model_id).values(**values, deleted_at=None, deleted_by=None)
        )
        self._c.execute(delete(model_tags).where(model_tags.c.model_id == model_id))
        self._set_tags(model_id, tags)

    def _set_tags(self, model_id: int, tags: dict[str, str]) -> None:
        if tags:
            rows = [{"model_id": model_id, "key": key, "value": value} for key, value in tags.items()]
            self._c.execute(insert(model_tags), rows)

    def rename_model(self, model_id: int, new_name: str, *, at: datetime) -> None:
        """Give the model (its row locked by the caller) another name; aliases, versions, history, holds,
        policies and requests are keyed by id and follow. ``ModelAlreadyExists`` when any model, live or
        deleted, has the new name (a deleted one keeps its name for a revival)."""
        taken = self._c.execute(select(models.c.deleted_at).where(models.c.name == new_name)).first()
        if taken is not None:
            raise _taken(new_name, deleted=taken.deleted_at is not None)
        try:
            self._c.execute(
                update(models).where(models.c.id == model_id).values(name=new_name, updated_at=at)
            )
        except IntegrityError:  # a concurrent rename or create took the name after the check
            raise _taken(new_name, deleted=False) from None

    def mark_model_deleted(self, model_id: int, *, at: datetime, actor: str) -> list[int]:
        """Soft-delete the model (its row locked by the caller) in four statements, whatever its size: close
        its open alias intervals, remove its aliases, mark its live versions and the model deleted. Returns
        the numbers of the versions it deleted, ascending."""
        open_intervals = and_(alias_history.c.model_id == model_id, alias_history.c.valid_to.is_(None))
        self._c.execute(update(alias_history).where(open_intervals).values(valid_to=at, ended_by=actor))
        self._c.execute(delete(aliases).where(aliases.c.model_id == model_id))
        live = and_(versions.c.model_id == model_id, versions.c.deleted_at.is_(None))
        marked = self._c.execute(
            update(versions)
            .where(live)
            .values(deleted_at=at, deleted_by=actor, updated_at=at)
            .returning(versions.c.number)
        )
        numbers = sorted(marked.scalars())
        self._c.execute(
            update(models)
            .where(models.c.id == model_id)
            .values(deleted_at=at, deleted_by=actor, updated_at=at)
        )
        return numbers

    def allocate_version(self, model_id: int, number: int | None = None) -> int:
        """The next number (the counter plus one), or ``number`` when it is above every number the model has
        had (an import; ``VersionExists`` otherwise). The numbers skipped by an import are never used."""
        if number is None:
            statement = (
                update(models)
                .where(models.c.id == model_id)
                .values(last_version=models.c.last_version + 1)
                .returning(models.c.last_version)
            )
            allocated: int = self._c.execute(statement).scalar_one()
            return allocated
        moved = self._c.execute(
            update(models)
            .where(models.c.id == model_id, models.c.last_version < number)
            .values(last_version=number)
            .returning(models.c.last_version)
        ).scalar()
        if moved is None:
            row = self._c.execute(select(models.c.name, models.c.last_version).where(models.c.id == model_id))
            name, last = row.one()
            raise VersionExists(
                f"model {name!r} has had versions up to {last}: an imported version needs a number above "
                f"{last}, not {number}",
                details={"version": number, "last_version": last},
            )
        return number


def _taken(name: str, *, deleted: bool) -> ModelAlreadyExists:
    if deleted:
        return ModelAlreadyExists(
            f"model {name!r} already exists (deleted: its name keeps its history until it is created again)",
            details={"deleted": True},
        )
    return ModelAlreadyExists(f"model {name!r} already exists")
