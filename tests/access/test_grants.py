"""Grants on model-name patterns: what ``Actor.can``, ``require``, ``require_somewhere`` and ``scope`` answer.

Pure: no database. The same patterns are compiled to SQL in ``metadata/search.visible`` (checked against
this module's answers below, on SQLite and PostgreSQL).
"""

from __future__ import annotations

import pytest
import sqlalchemy

from modelreg import errors
from modelreg.access import Actor, Grant, Permission, check_models, check_role
from modelreg.metadata.search import visible

P = Permission
BOB = Actor("bob", role="none", grants=(Grant("contributor", "risk-*"), Grant("viewer", "ops-?")))


def test_a_scoped_grant_covers_only_matching_models() -> None:
    assert BOB.can(P.VERSION_CREATE, "risk-a") and BOB.can(P.MODEL_READ, "risk-")
    assert not BOB.can(P.VERSION_CREATE, "Risk-a")  # case-sensitive, like model names
    assert not BOB.can(P.VERSION_CREATE, "ops-b") and BOB.can(P.MODEL_READ, "ops-b")
    assert not BOB.can(P.MODEL_READ, "ops-bb")  # '?' is exactly one character
    assert not BOB.can(P.MODEL_READ)  # never a model-less operation
    assert not BOB.can(P.MODEL_READ, None) and not BOB.can(P.MODEL_READ, 3)  # type: ignore[arg-type]


def test_a_global_role_or_a_star_grant_covers_everything() -> None:
    assert (
        Actor("t", role="viewer").can(P.MODEL_READ) and Actor("t", role="viewer").scope(P.MODEL_READ) is None
    )
    star = Actor("t", role="none", grants=(Grant("admin"),))
    assert star.can(P.TOKEN_ADMIN) and star.can(P.VERSION_DELETE, "anything")
    assert star.scope(P.ACCESS_ADMIN) is None


def test_scope_and_require_somewhere() -> None:
    assert BOB.scope(P.MODEL_READ) == ("ops-?", "risk-*")
    assert BOB.scope(P.VERSION_CREATE) == ("risk-*",)
    assert BOB.scope(P.VERSION_DELETE) == ()
    BOB.require_somewhere(P.VERSION_CREATE)
    with pytest.raises(errors.PermissionDenied, match="on every model"):
        BOB.require_somewhere(P.VERSION_DELETE)


def test_require_names_the_model_and_the_grants() -> None:
    BOB.require(P.ALIAS_WRITE, model="risk-a")
    with pytest.raises(errors.PermissionDenied) as caught:
        BOB.require(P.ALIAS_WRITE, model="ops-b")
    assert caught.value.code == "PERMISSION_DENIED"
    assert caught.value.message == (
        "bob (none; contributor on risk-*; viewer on ops-?) lacks the alias:write permission on model 'ops-b'"
    )
    assert caught.value.details == {"permission": "alias:write", "role": "none", "model": "ops-b"}


@pytest.mark.parametrize(
    "pattern", ["", "risk[", "risk-[ab]", "a b", "risk/*", "%", "a\\b", "x" * 129, 7, None]
)
def test_bad_patterns_are_refused(pattern: object) -> None:
    with pytest.raises(errors.InvalidInput, match="invalid model pattern"):
        check_models(pattern)
    with pytest.raises(errors.InvalidInput):
        Grant("viewer", pattern)  # type: ignore[arg-type]


def test_roles() -> None:
    assert check_role("approver") == "approver"
    assert check_role("none", none_ok=True) == "none"
    for bad in ("none", "owner", ["viewer"]):
        with pytest.raises(errors.InvalidInput, match="invalid role"):
            check_role(bad)


NAMES = ["risk-a", "risk-", "Risk-a", "risk_a", "riskxa", "ops-b", "ops-bb", "ops_b", "a.b", "a%b"]
PATTERNS = [("risk-*",), ("ops-?",), ("risk_a",), ("a.b", "ops-?"), ("*a",), ()]


@pytest.mark.parametrize("patterns", PATTERNS)
def test_sql_visibility_agrees_with_the_actor(database: str, patterns: tuple[str, ...]) -> None:
    """GLOB on SQLite and escaped LIKE on PostgreSQL select exactly the names the grants cover ('_' and '%'
    are literal characters in a pattern)."""
    engine = sqlalchemy.create_engine(database.replace("postgresql://", "postgresql+psycopg://", 1))
    table = sqlalchemy.table("names", sqlalchemy.column("name", sqlalchemy.String))
    try:
        with engine.begin() as connection:
            connection.execute(sqlalchemy.text("CREATE TABLE names (name VARCHAR(128))"))
            connection.execute(sqlalchemy.text("INSERT INTO names VALUES (:n)"), [{"n": n} for n in NAMES])
            condition = visible(table.c.name, patterns, engine.dialect.name)
            found = set(connection.execute(sqlalchemy.select(table.c.name).where(condition)).scalars())
    finally:
        engine.dispose()
    actor = Actor("x", role="none", grants=tuple(Grant("viewer", p) for p in patterns))
    assert found == {name for name in NAMES if actor.can(P.MODEL_READ, name)}
