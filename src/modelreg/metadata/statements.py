"""The statements of the hottest reads (``get_version``, a page of versions), built once at import.

Building a SQLAlchemy statement costs more than running it on SQLite: ``get_version`` used to spend ~85 % of
its time constructing seven statements and computing their cache keys. These are built once, with bound
parameters, so a call only binds values and hits the compiled cache:

- a version's key from an alias, a number, or the latest (live) version, optionally with a digest;
- a version row with its model's name, by ``=`` for one id (an expanding ``IN`` for a page);
- every child row of those versions (metrics, params, tags, files, aliases) in **one** ``UNION ALL``,
  tagged by kind and ordered by kind, version and name, instead of five queries;
- models by id (``get_model``, which MLflow's client calls before nearly every write): the rows with their
  latest live version, their tags, their aliases.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    Float,
    Integer,
    Select,
    Text,
    bindparam,
    cast,
    func,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.selectable import CompoundSelect

from modelreg.metadata.tables import (
    aliases,
    model_tags,
    models,
    version_files,
    version_metrics,
    version_params,
    version_tags,
    versions,
)

__all__ = [
    "ALIAS",
    "ALIAS_KEY",
    "CHILDREN_OF_ONE",
    "CHILDREN_OF_PAGE",
    "FILE",
    "KEY_COLUMNS",
    "LATEST_KEY",
    "LATEST_KEY_WITH_DIGEST",
    "METRIC",
    "MODEL_ALIASES",
    "MODEL_ROWS",
    "MODEL_TAGS",
    "NUMBER_KEY",
    "PARAM",
    "TAG",
    "VERSION_ROW",
    "VERSION_ROWS",
]

KEY_COLUMNS = (
    versions.c.model_id,
    versions.c.id,
    versions.c.number,
    versions.c.deleted_at,
    versions.c.purged_at,
)

# A deleted model is not found by its name (its versions are deleted too, and its name is free to revive).
_named = (models.c.name == bindparam("name"), models.c.deleted_at.is_(None))
_by_name = select(*KEY_COLUMNS).join(models, versions.c.model_id == models.c.id)
NUMBER_KEY: Final = _by_name.where(*_named, versions.c.number == bindparam("number"))
_latest = _by_name.where(*_named, versions.c.deleted_at.is_(None))
LATEST_KEY: Final = _latest.order_by(versions.c.number.desc()).limit(1)
LATEST_KEY_WITH_DIGEST: Final = (
    _latest.where(versions.c.digest == bindparam("digest")).order_by(versions.c.number.desc()).limit(1)
)
ALIAS_KEY: Final = (
    select(*KEY_COLUMNS)
    .select_from(aliases.join(models, aliases.c.model_id == models.c.id))
    .join(versions, versions.c.id == aliases.c.version_id)
    .where(*_named, aliases.c.alias == bindparam("alias"))
)

_row = select(versions, models.c.name.label("model_name")).join(models, versions.c.model_id == models.c.id)
VERSION_ROW: Final = _row.where(versions.c.id == bindparam("id"))
VERSION_ROWS: Final = _row.where(versions.c.id.in_(bindparam("ids", expanding=True)))

# The ``kind`` of each child row.
METRIC, PARAM, TAG, FILE, ALIAS = range(5)


def _children(*, one: bool) -> CompoundSelect[Any]:
    def owned_by(column: Any) -> Any:
        return column == bindparam("id") if one else column.in_(bindparam("ids", expanding=True))

    def part(kind: int, table: Any, columns: tuple[Any, Any, Any, Any]) -> Select[Any]:
        name, text, number, size = columns
        return select(
            literal_column(str(kind), Integer).label("kind"),
            table.c.version_id.label("version_id"),
            name.label("name"),
            text.label("text"),
            number.label("number"),
            size.label("size"),
        ).where(owned_by(table.c.version_id))

    no_text, no_number, no_size = cast(null(), Text), cast(null(), Float), cast(null(), BigInteger)
    m, p, t, f, a = version_metrics, version_params, version_tags, version_files, aliases
    union = union_all(
        part(METRIC, m, (m.c.key, no_text, m.c.value, no_size)),
        part(PARAM, p, (p.c.key, p.c.value, no_number, no_size)),
        part(TAG, t, (t.c.key, t.c.value, no_number, no_size)),
        part(FILE, f, (f.c.path, f.c.file_digest, no_number, f.c.size)),
        part(ALIAS, a, (a.c.alias, no_text, no_number, no_size)),
    )
    columns = union.selected_columns
    ordered: CompoundSelect[Any] = union.order_by(columns.kind, columns.version_id, columns.name)
    return ordered


CHILDREN_OF_ONE: Final = _children(one=True)
CHILDREN_OF_PAGE: Final = _children(one=False)


_MODEL_IDS: BindParameter[int] = bindparam("ids", expanding=True)
_LATEST = (
    select(versions.c.model_id, func.max(versions.c.number).label("latest"))
    .where(versions.c.model_id.in_(_MODEL_IDS), versions.c.deleted_at.is_(None))
    .group_by(versions.c.model_id)
    .subquery()
)
MODEL_ROWS: Final = (
    select(models, _LATEST.c.latest)
    .outerjoin(_LATEST, _LATEST.c.model_id == models.c.id)
    .where(models.c.id.in_(_MODEL_IDS))
)
MODEL_TAGS: Final = (
    select(model_tags.c.model_id, model_tags.c.key, model_tags.c.value)
    .where(model_tags.c.model_id.in_(_MODEL_IDS))
    .order_by(model_tags.c.key)
)
MODEL_ALIASES: Final = (
    select(aliases.c.model_id, aliases.c.alias, versions.c.number)
    .join(versions, versions.c.id == aliases.c.version_id)
    .where(aliases.c.model_id.in_(_MODEL_IDS))
    .order_by(aliases.c.alias)
)
