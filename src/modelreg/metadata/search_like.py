"""A LIKE that is case-sensitive on every backend, as it is in PostgreSQL and in MLflow's documentation.

SQLite's LIKE ignores ASCII case, and collations do not change that (only a connection-wide pragma does,
which would leak into every other query on the connection). Its GLOB operator is case-sensitive, and it is
also the one SQLite can answer from an ordinary (BINARY-collated) index when the pattern starts with literal
text: ``name GLOB 'churn*'`` becomes an index range scan, where a case-insensitive LIKE cannot use that
index at all. So ``LikeExactCase`` renders ``column GLOB :pattern`` on SQLite, with the LIKE pattern
translated to GLOB syntax in Python, and ``column LIKE :pattern ESCAPE '\\'`` everywhere else.

Both patterns travel as bound parameters built when the expression is built, never at compile time: the
compiled SQL is cached per statement shape and must not depend on a parameter's value.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, String, bindparam
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

__all__ = ["ESCAPE", "LikeExactCase", "like_to_glob"]

ESCAPE = "\\"  # PostgreSQL's default LIKE escape; SQLite has none unless told, so it is always spelled out


class LikeExactCase(ColumnElement[bool]):
    """``column LIKE pattern``, case-sensitive, where ``\\`` escapes the next character of the pattern."""

    __visit_name__ = "like_exact_case"
    inherit_cache = True
    _traverse_internals = [  # noqa: RUF012  # SQLAlchemy's own declaration style for cache keys
        ("operand", InternalTraversal.dp_clauseelement),
        ("like_param", InternalTraversal.dp_clauseelement),
        ("glob_param", InternalTraversal.dp_clauseelement),
    ]
    type = Boolean()
    # A predicate in its own right: without this, backends lacking a boolean type (SQLite) would render
    # ``(name GLOB ?) = 1``, which also hides the pattern from SQLite's index (LIKE/GLOB) optimisation.
    _is_implicitly_boolean = True

    def __init__(self, column: ColumnElement[Any], pattern: str) -> None:
        self.operand = column
        self.like_param: BindParameter[str] = bindparam(None, pattern, type_=String(), unique=True)
        self.glob_param: BindParameter[str] = bindparam(
            None, like_to_glob(pattern), type_=String(), unique=True
        )


def like_to_glob(pattern: str) -> str:
    """The GLOB pattern matching exactly what ``pattern`` matches under LIKE ... ESCAPE '\\'.

    ``%`` → ``*``, ``_`` → ``?``, an escaped character is literal, and GLOB's own wildcards are bracketed so
    they stay literal (``*`` → ``[*]``). A dangling final ``\\`` is rejected by the parser before this.
    """
    out: list[str] = []
    chars = iter(pattern)
    for char in chars:
        if char == ESCAPE:
            out.append(_literal(next(chars, "")))
        elif char == "%":
            out.append("*")
        elif char == "_":
            out.append("?")
        else:
            out.append(_literal(char))
    return "".join(out)


def _literal(char: str) -> str:
    return f"[{char}]" if char in ("*", "?", "[") else char


@compiles(LikeExactCase)
def _compile_like(element: LikeExactCase, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.operand.like(element.like_param, escape=ESCAPE), **kw)


@compiles(LikeExactCase, "sqlite")
def _compile_glob(element: LikeExactCase, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.operand.op("GLOB", is_comparison=True)(element.glob_param), **kw)
