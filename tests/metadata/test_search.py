"""Filters compiled to SQL: user text only in bound parameters; exact results on SQLite and PostgreSQL.

The schema is built by the Alembic migrations (``upgrade head``), as in production; rows are inserted with
Core so each filter's exact result set is known.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from sqlalchemy import Select, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect, Engine

from modelreg.errors import InvalidFilter
from modelreg.metadata.engine import migrate
from modelreg.metadata.search import model_condition, model_order, version_condition, version_order
from modelreg.metadata.search_like import like_to_glob
from modelreg.metadata.tables import (
    aliases,
    model_tags,
    models,
    version_datasets,
    version_metrics,
    version_params,
    version_tags,
    versions,
)
from modelreg.registry.filters import Comparison, Field, parse_filter, parse_order_by

POSTGRES_URL = os.environ.get("MODELREG_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
DIALECTS: list[Dialect] = [sqlite.dialect(), postgresql.dialect()]


def version_query(text: str | None, order_by: Sequence[str] = ()) -> Select[Any]:
    query = select(models.c.name, versions.c.number).select_from(
        versions.join(models, versions.c.model_id == models.c.id)
    )
    expr = parse_filter(text, target="versions")
    if expr is not None:
        query = query.where(version_condition(expr))
    return query.order_by(*version_order(parse_order_by(order_by, target="versions")))


def model_query(text: str | None, order_by: Sequence[str] = ()) -> Select[Any]:
    query = select(models.c.name)
    expr = parse_filter(text, target="models")
    if expr is not None:
        query = query.where(model_condition(expr))
    return query.order_by(*model_order(parse_order_by(order_by, target="models")))


# Compiling: nothing the user wrote reaches the SQL text.

# Each hostile string, and a piece of it that would show up in the SQL text if it were ever spliced in.
INJECTIONS = [
    ("x' OR 1=1 --", "OR 1=1"),
    ('a"; DROP TABLE models; --', "DROP TABLE"),
    ("%' OR '1'='1", "'1'='1"),
    ("`) OR (1=1", ") OR (1=1"),
]


def quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def key(text: str) -> str:
    return "`" + text.replace("`", "``") + "`"


def version_filters(evil: str) -> list[str]:
    q, k = quoted(evil), key(evil)
    return [
        f"name = {q}",
        f"name LIKE {q}",
        f"name ILIKE {q}",
        f"name IN ({q}, 'b')",
        f"run_id != {q}",
        f"description NOT IN ({q})",
        f"digest = {q} OR created_by = {q}",
        f"alias = {q}",
        f"dataset LIKE {q}",
        f"tags.{k} = {q}",
        f"tags.{k} != {q}",
        f"params.{k} ILIKE {q}",
        f"metrics.{k} > 1",
    ]


def params_of(compiled: Any) -> list[str]:
    values: list[str] = []
    for value in compiled.params.values():
        values.extend(str(item) for item in (value if isinstance(value, list) else [value]))
    return values


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: str(d.name))
@pytest.mark.parametrize(("evil", "marker"), INJECTIONS)
def test_user_text_is_only_ever_a_bound_parameter(dialect: Dialect, evil: str, marker: str) -> None:
    order_by = [f"tags.{key(evil)}", f"metrics.{key(evil)} DESC", f"params.{key(evil)}"]
    for text in version_filters(evil):
        compiled = version_query(text, order_by).compile(dialect=dialect)
        assert marker not in str(compiled), text
        assert any(marker in value for value in params_of(compiled)), text
    for text in [f"name = {quoted(evil)}", f"tags.{key(evil)} NOT IN ({quoted(evil)})"]:
        compiled = model_query(text, order_by=[f"tags.{key(evil)}"]).compile(dialect=dialect)
        assert marker not in str(compiled), text
        assert evil in params_of(compiled), text


def test_hostile_time_is_refused_before_any_sql() -> None:
    with pytest.raises(InvalidFilter, match="at position 13: expected an ISO-8601 time"):
        version_query(f"created_at > {quoted(INJECTIONS[0][0])}")


def test_sql_shape_per_dialect() -> None:
    query = version_query("name LIKE 'churn%' AND tags.env ILIKE 'PROD'", order_by=["metrics.acc DESC"])
    lite = str(query.compile(dialect=sqlite.dialect()))
    pg = str(query.compile(dialect=postgresql.dialect()))
    assert "models.name GLOB ?" in lite
    assert "GLOB ? = 1" not in lite  # a bare predicate, so SQLite's index optimisation sees it
    assert "LIKE" not in lite.replace("lower(version_tags.value) LIKE lower(?) ESCAPE '\\'", "")
    assert "models.name LIKE %(param_1)s::VARCHAR ESCAPE '\\'" in pg
    assert "version_tags.value ILIKE" in pg
    for sql in (lite, pg):
        order = sql[sql.index("ORDER BY") :]
        assert order.count("IS NULL ASC") == 1
        assert order.index("IS NULL ASC") < order.index(") DESC")
        assert order.endswith("models.name ASC, versions.number DESC")
    assert str(model_query(None).compile()).endswith("ORDER BY models.name ASC")


@pytest.mark.parametrize(
    ("like", "glob"),
    [
        ("churn%", "churn*"),
        ("a_b", "a?b"),
        (r"a\_b", "a_b"),
        (r"100\%", "100%"),
        ("a*b?[c]", "a[*]b[?][[]c]"),
        (r"a\\b", "a\\b"),
        (r"\*", "[*]"),
        ("", ""),
    ],
)
def test_like_to_glob(like: str, glob: str) -> None:
    assert like_to_glob(like) == glob


@pytest.mark.parametrize(
    "expr",
    [
        Comparison(Field("attribute", "stage"), "=", "deployed"),
        Comparison(Field("attribute", "created_at"), ">", "not a time"),
        Comparison(Field("attribute", "created_at"), "LIKE", "2024%"),
        Comparison(Field("attribute", "colour"), "=", "red"),
        Comparison(Field("attribute", "name"), "~", "x"),
    ],
)
def test_hand_built_trees_are_still_checked(expr: Comparison) -> None:
    with pytest.raises(InvalidFilter):
        version_condition(expr)


def test_models_have_no_metrics_even_in_hand_built_trees() -> None:
    with pytest.raises(InvalidFilter):
        model_condition(Comparison(Field("metric", "acc"), ">", 1.0))


# Querying: exact results on a real database of each kind.

T0 = datetime(2024, 1, 1, tzinfo=UTC)
FRAUD_2_CREATED = T0 + timedelta(hours=6, microseconds=500)  # inside one millisecond, not on its start
FRAUD_2_MS = int((FRAUD_2_CREATED - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(milliseconds=1))

MODELS = {  # name: (id, created_at offset in days, tags)
    "churn": (1, 0, {"team": "growth"}),
    "CHURN-legacy": (2, -1, {"team": "Growth"}),
    "fraud": (3, 1, {"team": "risk"}),
    "summarise": (4, 2, {"mlflow.prompt.is_prompt": "true"}),
    "a_b": (5, 3, {}),
    "aXb": (6, 4, {}),
}


@dataclass(frozen=True)
class Row:
    ref: str
    stage: str
    run_id: str | None
    created_by: str
    acc: float | None = None
    lr: str | None = None
    tags: dict[str, str] = dataclass_field(default_factory=dict)
    description: str = ""


VERSIONS = [  # version ids 1…9 in this order, created at T0 + id hours (fraud/2: see above)
    Row("churn/1", "archived", "r-1", "alice", acc=0.80, lr="0.1", tags={"env": "dev"}),
    Row("churn/2", "production", "r-2", "alice", 0.91, "0.01", {"env": "prod"}, "Retrained on 2024 data"),
    Row("churn/3", "staging", None, "bob"),
    Row("CHURN-legacy/1", "none", "r-4", "carol", acc=0.75, tags={"env": "Prod"}),
    Row("fraud/1", "production", "r-5", "alice", acc=0.99, tags={"env": "prod"}),
    Row("fraud/2", "none", "r-6", "alice", acc=0.91, tags={"pattern": "a*b"}),
    Row("summarise/1", "none", None, "bob", tags={"mlflow.prompt.is_prompt": "true"}),
    Row("a_b/1", "none", "r-8", "bob", tags={"pattern": "axb"}),
    Row("aXb/1", "none", "r-9", "bob"),
]
ALIASES = {
    ("churn", "champion"): "churn/2",
    ("churn", "challenger"): "churn/3",
    ("fraud", "champion"): "fraud/1",
}
DATASETS = [
    ("churn/1", "customers-2023", "s3://data/customers/2023.parquet", "sha256:aaa"),
    ("churn/2", "customers-2024", "s3://data/customers/2024.parquet", "sha256:bbb"),
    ("fraud/1", "transactions", None, None),
]
ALL = {row.ref for row in VERSIONS}


def _insert_models(connection: Connection) -> None:
    for name, (model_id, days, tags) in MODELS.items():
        at = T0 + timedelta(days=days)
        connection.execute(
            insert(models).values(
                id=model_id, name=name, description="", created_at=at, created_by="alice", updated_at=at
            )
        )
        for tag_key, value in tags.items():
            connection.execute(insert(model_tags).values(model_id=model_id, key=tag_key, value=value))


def _insert_version(connection: Connection, version_id: int, row: Row) -> None:
    name, number = row.ref.split("/")
    at = FRAUD_2_CREATED if row.ref == "fraud/2" else T0 + timedelta(hours=version_id)
    connection.execute(
        insert(versions).values(
            id=version_id, model_id=MODELS[name][0], number=int(number), digest=f"sha256:{version_id:064x}",
            manifest="{}", size_bytes=1, file_count=1, description=row.description, stage=row.stage,
            run_id=row.run_id, lineage="{}", created_at=at, created_by=row.created_by, updated_at=at,
        )
    )  # fmt: skip
    if row.acc is not None:
        connection.execute(insert(version_metrics).values(version_id=version_id, key="acc", value=row.acc))
    if row.lr is not None:
        connection.execute(insert(version_params).values(version_id=version_id, key="lr", value=row.lr))
    for tag_key, value in row.tags.items():
        connection.execute(insert(version_tags).values(version_id=version_id, key=tag_key, value=value))


def _insert_links(connection: Connection) -> None:
    ids = {row.ref: index for index, row in enumerate(VERSIONS, start=1)}
    for (name, alias), ref in ALIASES.items():
        connection.execute(
            insert(aliases).values(
                model_id=MODELS[name][0], alias=alias, version_id=ids[ref], updated_at=T0, updated_by="alice"
            )
        )
    for ref, name, uri, digest in DATASETS:
        connection.execute(
            insert(version_datasets).values(
                version_id=ids[ref], name=name, uri=uri, digest=digest, role="train"
            )
        )


def _load(engine: Engine) -> None:
    migrate(engine)
    with engine.begin() as connection:
        _insert_models(connection)
        for version_id, row in enumerate(VERSIONS, start=1):
            _insert_version(connection, version_id, row)
        _insert_links(connection)


@pytest.fixture(scope="module")
def postgres_engine() -> Iterator[Engine]:
    """A fresh schema for this module's run, dropped at the end, so concurrent runs never collide."""
    schema = f"search_{secrets.token_hex(6)}"
    admin = sqlalchemy.create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as connection:
        connection.execute(sqlalchemy.text(f'CREATE SCHEMA "{schema}"'))
    engine = sqlalchemy.create_engine(
        admin.url, connect_args={"options": f"-c search_path={schema}"}, poolclass=sqlalchemy.NullPool
    )
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(sqlalchemy.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    if request.param == "postgres":
        engine: Engine = request.getfixturevalue("postgres_engine")
        _load(engine)
        yield engine
        return
    path: Path = tmp_path_factory.mktemp("search") / "registry.db"
    engine = sqlalchemy.create_engine(f"sqlite:///{path}", poolclass=sqlalchemy.NullPool)
    _load(engine)
    yield engine
    engine.dispose()


def refs(engine: Engine, query: Select[Any]) -> list[str]:
    with engine.connect() as connection:
        return [f"{name}/{number}" for name, number in connection.execute(query)]


def found(engine: Engine, text: str) -> set[str]:
    return set(refs(engine, version_query(text)))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name = 'churn'", {"churn/1", "churn/2", "churn/3"}),
        ("name LIKE 'churn%'", {"churn/1", "churn/2", "churn/3"}),  # case-sensitive on SQLite too
        ("name LIKE 'CHURN%'", {"CHURN-legacy/1"}),
        ("name ILIKE 'churn%'", {"churn/1", "churn/2", "churn/3", "CHURN-legacy/1"}),
        ("name LIKE 'a_b'", {"a_b/1", "aXb/1"}),
        (r"name LIKE 'a\_b'", {"a_b/1"}),
        ("tags.pattern LIKE 'a*b'", {"fraud/2"}),  # GLOB's '*' stays literal
        ("tags.pattern LIKE 'a_b'", {"fraud/2", "a_b/1"}),
        ("name IN ('fraud', 'a_b')", {"fraud/1", "fraud/2", "a_b/1"}),
        ("name NOT IN ('churn', 'fraud')", {"CHURN-legacy/1", "summarise/1", "a_b/1", "aXb/1"}),
        ("version_number > 1", {"churn/2", "churn/3", "fraud/2"}),
        ("version IN (2, 3)", {"churn/2", "churn/3", "fraud/2"}),
        ("metrics.acc > 0.85", {"churn/2", "fraud/1", "fraud/2"}),
        ("metrics.acc != 0.91", {"churn/1", "CHURN-legacy/1", "fraud/1"}),  # no metric: no match
        ("tags.env = 'prod'", {"churn/2", "fraud/1"}),
        ("tags.env != 'prod'", ALL - {"churn/2", "fraud/1"}),  # lacking the tag matches
        ("tags.env ILIKE 'PROD'", {"churn/2", "fraud/1", "CHURN-legacy/1"}),
        ("tags.env NOT IN ('prod', 'dev')", ALL - {"churn/1", "churn/2", "fraud/1"}),
        ("tags.`mlflow.prompt.is_prompt` != 'true'", ALL - {"summarise/1"}),
        ("tags.`mlflow.prompt.is_prompt` = 'false'", ALL - {"summarise/1"}),
        ("params.lr = '0.01'", {"churn/2"}),
        ("stage = 'Production'", {"churn/2", "fraud/1"}),
        ("current_stage IN ('staging', 'archived')", {"churn/1", "churn/3"}),
        ("alias = 'champion'", {"churn/2", "fraud/1"}),
        ("alias != 'champion'", ALL - {"churn/2", "fraud/1"}),
        ("alias LIKE 'ch%'", {"churn/2", "churn/3", "fraud/1"}),
        ("dataset = 'customers-2024'", {"churn/2"}),
        ("dataset = 'sha256:aaa'", {"churn/1"}),
        ("dataset LIKE 's3://data/customers/%'", {"churn/1", "churn/2"}),
        ("dataset != 'transactions'", ALL - {"fraud/1"}),
        ("run_id != 'r-1'", ALL - {"churn/1"}),  # NULL run ids included: the complement of =
        ("run_id IN ('r-1', 'r-5')", {"churn/1", "fraud/1"}),
        ("user_id = 'carol'", {"CHURN-legacy/1"}),
        ("description ILIKE '%2024%'", {"churn/2"}),
        (f"digest = 'sha256:{2:064x}'", {"churn/2"}),
        ("name = 'churn' AND (stage = 'production' OR alias = 'challenger')", {"churn/2", "churn/3"}),
        ("name = 'churn' AND stage = 'production' OR name = 'fraud' AND version = 2", {"churn/2", "fraud/2"}),
        ("created_at >= '2024-01-01T07:00:00Z'", {"summarise/1", "a_b/1", "aXb/1"}),
        ("created_at < '2024-01-01T03:00:00+01:00'", {"churn/1"}),
        (f"creation_timestamp = {FRAUD_2_MS}", {"fraud/2"}),  # the whole millisecond
        (f"creation_timestamp <= {FRAUD_2_MS}", {row.ref for row in VERSIONS[:6]}),
        (f"creation_timestamp < {FRAUD_2_MS}", {row.ref for row in VERSIONS[:5]}),
        (f"creation_timestamp > {FRAUD_2_MS}", {row.ref for row in VERSIONS[6:]}),
        (f"creation_timestamp != {FRAUD_2_MS}", ALL - {"fraud/2"}),
        ("name = 'nobody'", set()),
    ],
)
def test_version_filters(db: Engine, text: str, expected: set[str]) -> None:
    assert found(db, text) == expected


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        ([], ["churn/3", "churn/2", "churn/1", "fraud/2", "fraud/1"]),
        (["metrics.acc DESC"], ["fraud/1", "churn/2", "fraud/2", "churn/1", "churn/3"]),
        (["metrics.acc"], ["churn/1", "churn/2", "fraud/2", "fraud/1", "churn/3"]),
        (["tags.env"], ["churn/1", "churn/2", "fraud/1", "churn/3", "fraud/2"]),
        (["tags.env DESC"], ["churn/2", "fraud/1", "churn/1", "churn/3", "fraud/2"]),
        (["params.lr DESC"], ["churn/1", "churn/2", "churn/3", "fraud/2", "fraud/1"]),
        (["version_number ASC"], ["churn/1", "fraud/1", "churn/2", "fraud/2", "churn/3"]),
        (["stage"], ["fraud/2", "churn/3", "churn/2", "fraud/1", "churn/1"]),
        (["creation_timestamp DESC"], ["fraud/2", "fraud/1", "churn/3", "churn/2", "churn/1"]),
        (["run_id DESC"], ["fraud/2", "fraud/1", "churn/2", "churn/1", "churn/3"]),
        (["run_id"], ["churn/1", "churn/2", "fraud/1", "fraud/2", "churn/3"]),
        (["name DESC", "version"], ["fraud/1", "fraud/2", "churn/1", "churn/2", "churn/3"]),
    ],
)
def test_version_order(db: Engine, order_by: list[str], expected: list[str]) -> None:
    assert refs(db, version_query("name IN ('churn', 'fraud')", order_by)) == expected


@pytest.mark.parametrize(
    ("text", "order_by", "expected"),
    [
        ("name LIKE 'churn%'", [], "churn"),  # case-sensitive on SQLite too
        ("name ILIKE 'churn%'", ["creation_timestamp"], "CHURN-legacy churn"),
        ("tags.team = 'growth'", [], "churn"),
        ("tags.team ILIKE 'GROWTH'", ["timestamp DESC"], "churn CHURN-legacy"),
        ("tags.`mlflow.prompt.is_prompt` != 'true'", ["created_at"], "CHURN-legacy churn fraud a_b aXb"),
        ("name IN ('churn', 'fraud', 'a_b')", ["tags.team DESC"], "fraud churn a_b"),  # no tag: last
        ("name IN ('churn', 'fraud', 'a_b')", ["tags.team"], "churn fraud a_b"),
        ("name = 'fraud' OR tags.team = 'Growth'", ["last_updated_timestamp DESC"], "fraud CHURN-legacy"),
        ("created_at > '2024-01-02T12:00:00'", ["created_at DESC"], "aXb a_b summarise"),
        (
            "name != 'churn' AND created_at > '2024-01-01'",
            ["user_id", "created_at DESC"],
            "aXb a_b summarise fraud",
        ),
    ],
)
def test_model_filters_and_order(db: Engine, text: str, order_by: list[str], expected: str) -> None:
    with db.connect() as connection:
        assert list(connection.scalars(model_query(text, order_by))) == expected.split()


def test_compiled_statement_cache_never_reuses_a_pattern(db: Engine) -> None:
    # Same statement shape, different patterns: the second run hits SQLAlchemy's compiled cache.
    assert found(db, "name LIKE 'churn%'") == {"churn/1", "churn/2", "churn/3"}
    assert found(db, "name LIKE 'CHURN%'") == {"CHURN-legacy/1"}
    assert found(db, "name LIKE 'fr%'") == {"fraud/1", "fraud/2"}


def test_sqlite_answers_a_prefix_like_from_the_name_index(tmp_path: Path) -> None:
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'plan.db'}", poolclass=sqlalchemy.NullPool)
    migrate(engine)
    expr = parse_filter("name LIKE 'churn%'", target="models")
    assert expr is not None
    compiled = select(models.c.id).where(model_condition(expr)).compile(engine)
    parameters = tuple(compiled.params[name] for name in compiled.positiontup or ())
    with engine.connect() as connection:
        plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", parameters).all()
    engine.dispose()
    assert "SEARCH models USING COVERING INDEX" in plan[0][3]
