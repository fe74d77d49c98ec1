"""The filter and sort keys of ``search_logged_models``: MLflow's logged-model search language.

MLflow's client sends AND-joined comparisons (``name = 'model' AND tags.`mlflow.git.commit` = 'abc'``),
never OR or parentheses, and sorts by attributes or metrics. Grammar (keywords case-insensitive)::

    filter     := comparison ("AND" comparison)*
    comparison := key ("=" | "!=" | "<" | "<=" | ">" | ">=" | "LIKE" | "ILIKE") value
                | key ["NOT"] "IN" "(" value ("," value)* ")"
    key        := [attributes. | tags. | params. | metrics.] name   (singular prefixes too; `quoted` names)
    order_by   := key ["ASC" | "DESC"]    or MLflow's {"field_name": key, "ascending": bool}

Attributes: ``name``, ``model_id``, ``model_type``, ``status``, ``source_run_id`` (text: = != LIKE ILIKE IN
NOT IN) and ``creation_timestamp`` (alias ``creation_time``), ``last_updated_timestamp`` (milliseconds:
= != < <= > >=). Tags and params are text, metrics numbers. The result is data only; ``metadata`` compiles
it to SQL with bound parameters. Errors are ``InvalidFilter`` with the 0-based position.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from modelreg.registry.filter_tokens import Token, describe, error, tokenize
from modelreg.registry.tracking_checks import model_status

__all__ = [
    "MODEL_ATTRIBUTES",
    "ModelCondition",
    "ModelFilter",
    "ModelOrder",
    "ModelSort",
    "parse_model_filter",
    "parse_model_order",
]

Kind = Literal["attribute", "tag", "param", "metric"]
Value = str | float | tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ModelCondition:
    kind: Kind
    key: str  # attributes: the canonical name (see MODEL_ATTRIBUTES)
    op: str  # = != < <= > >= LIKE ILIKE IN "NOT IN"
    value: Value  # a number for numeric fields, a tuple for IN / NOT IN, else text


@dataclass(frozen=True, slots=True)
class ModelSort:
    kind: Literal["attribute", "metric"]
    key: str
    descending: bool


ModelFilter = tuple[ModelCondition, ...]
ModelOrder = tuple[ModelSort, ...]

MODEL_ATTRIBUTES = (
    "name",
    "model_id",
    "model_type",
    "status",
    "source_run_id",
    "creation_timestamp",
    "last_updated_timestamp",
)
_ALIASES = {"creation_time": "creation_timestamp", "last_updated_time": "last_updated_timestamp"}
_NUMERIC_ATTRIBUTES = frozenset({"creation_timestamp", "last_updated_timestamp"})
_PREFIXES: dict[str, Kind] = {
    "attribute": "attribute",
    "attributes": "attribute",
    "tag": "tag",
    "tags": "tag",
    "param": "param",
    "params": "param",
    "metric": "metric",
    "metrics": "metric",
}
_NUMBER_OPS = ("=", "!=", "<", "<=", ">", ">=")
_TEXT_OPS = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN")
MAX_CONDITIONS = 50
MAX_SORT_KEYS = 16


def parse_model_filter(text: str | None) -> ModelFilter:
    """The conditions of ``text``, all to hold at once; () when there is nothing to filter on."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return ()
    parser = _Parser(text, "filter")
    conditions = [parser.condition()]
    while parser.keyword("AND"):
        if len(conditions) == MAX_CONDITIONS:
            raise parser.fail(f"more than {MAX_CONDITIONS} comparisons")
        conditions.append(parser.condition())
    parser.finish("AND or the end of the filter (OR and parentheses are not supported here)")
    return tuple(conditions)


def parse_model_order(items: Sequence[str | Mapping[str, Any]] | None) -> ModelOrder:
    """Sort keys from ``"key [ASC|DESC]"`` strings or MLflow's ``{"field_name", "ascending"}`` objects."""
    if items is None:
        return ()
    if isinstance(items, str | Mapping):
        items = [items]
    if len(items) > MAX_SORT_KEYS:
        raise error(0, f"more than {MAX_SORT_KEYS} sort keys", subject="order_by")
    return tuple(_sort_key(item, f"order_by[{index}]") for index, item in enumerate(items))


def _sort_key(item: str | Mapping[str, Any], subject: str) -> ModelSort:
    if not isinstance(item, Mapping):
        return _Parser(item, subject).sort_key()
    field, ascending = item.get("field_name"), item.get("ascending", True)
    if not isinstance(field, str) or not field:
        raise error(0, "'field_name' must be a non-empty string", subject=subject)
    if not isinstance(ascending, bool):
        raise error(0, "'ascending' must be true or false", subject=subject)
    prefix, dot, key = field.partition(".")
    kind = _PREFIXES.get(prefix.lower()) if dot else None
    if kind == "metric" and key:
        return ModelSort("metric", key, not ascending)
    name = key if kind == "attribute" else field
    canonical = _ALIASES.get(name, name)
    if kind not in (None, "attribute") or canonical not in MODEL_ATTRIBUTES:
        raise error(0, f"cannot sort on {field[:80]!r}: {_SORTABLE}", subject=subject)
    return ModelSort("attribute", canonical, not ascending)


_SORTABLE = f"expected one of {', '.join(MODEL_ATTRIBUTES)} or metrics.<key>"


class _Parser:
    def __init__(self, text: Any, subject: str) -> None:
        if not isinstance(text, str):
            raise error(0, f"expected text, got {type(text).__name__}", subject=subject)
        self._tokens = tokenize(text, subject=subject)
        self._at = 0
        self._subject = subject

    def condition(self) -> ModelCondition:
        kind, key, label = self._field()
        numeric = kind == "metric" or (kind == "attribute" and key in _NUMERIC_ATTRIBUTES)
        op = self._operator()
        allowed = _NUMBER_OPS if numeric else _TEXT_OPS
        if op not in allowed:
            raise self.fail(f"{label} does not support {op}; use one of: {', '.join(allowed)}", back=1)
        if op in ("IN", "NOT IN"):
            value: Value = self._list(kind, key)
        elif numeric:
            value = self._number(label)
        else:
            value = self._text_value(kind, key)
        return ModelCondition(kind, key, op, value)

    def sort_key(self) -> ModelSort:
        kind, key, label = self._field()
        if kind not in ("attribute", "metric"):
            raise self.fail(f"cannot sort on {label}: {_SORTABLE}", back=1)
        descending = False
        if self._is_keyword("ASC", "DESC"):
            descending = str(self._take().value).upper() == "DESC"
        self.finish("ASC, DESC or the end of the sort key")
        return ModelSort("metric" if kind == "metric" else "attribute", key, descending)

    def keyword(self, word: str) -> bool:
        if self._is_keyword(word):
            self._take()
            return True
        return False

    def finish(self, expected: str) -> None:
        if self._peek().kind != "end":
            raise self.fail(f"expected {expected}, got {describe(self._peek())}")

    def fail(self, message: str, *, back: int = 0) -> Exception:
        token = self._tokens[max(0, self._at - back)]
        return error(token.pos, message, subject=self._subject)

    # Pieces --------------------------------------------------------------------------------------------
    def _field(self) -> tuple[Kind, str, str]:
        segments = [self._segment()]
        while self._peek().kind == ".":
            self._take()
            segments.append(self._segment())
        label = ".".join(str(segment.value) for segment in segments)
        first = segments[0]
        prefix = (
            _PREFIXES.get(str(first.value).lower()) if first.kind == "word" and len(segments) > 1 else None
        )
        if prefix is None:
            return "attribute", self._attribute(label, first), label
        key = ".".join(str(segment.value) for segment in segments[1:])
        if prefix == "attribute":
            return "attribute", self._attribute(key, segments[1]), label
        if not key:
            raise error(segments[1].pos, f"empty {prefix} key", subject=self._subject)
        return prefix, key, label

    def _attribute(self, name: str, where: Token) -> str:
        canonical = _ALIASES.get(name, name)
        if canonical not in MODEL_ATTRIBUTES:
            raise error(
                where.pos,
                f"unknown attribute {name[:60]!r}: expected one of {', '.join(MODEL_ATTRIBUTES)}, "
                "or tags.<key>, params.<key>, metrics.<key>",
                subject=self._subject,
            )
        return canonical

    def _segment(self) -> Token:
        if self._peek().kind not in ("word", "bquoted", "dquoted"):
            raise self.fail(f"expected a field name, got {describe(self._peek())}")
        return self._take()

    def _operator(self) -> str:
        token = self._peek()
        if token.kind == "op" or self._is_keyword("LIKE", "ILIKE", "IN"):
            self._take()
            return str(token.value).upper()
        if self._is_keyword("NOT"):
            self._take()
            if not self._is_keyword("IN"):
                raise self.fail(f"expected IN after NOT, got {describe(self._peek())}")
            self._take()
            return "NOT IN"
        raise self.fail(f"expected a comparison operator, got {describe(token)}")

    def _number(self, label: str) -> float:
        token = self._peek()
        if token.kind != "number":
            raise self.fail(f"{label} compares with a number, got {describe(token)}")
        self._take()
        return float(token.value)

    def _text_value(self, kind: Kind, key: str) -> str:
        token = self._peek()
        if token.kind not in ("string", "dquoted"):
            raise self.fail(f"expected a quoted string, got {describe(token)}")
        self._take()
        text = str(token.value)
        if kind == "attribute" and key == "status":
            try:
                return model_status(text)
            except ValueError as exc:
                raise error(token.pos, str(exc), subject=self._subject) from None
        return text

    def _list(self, kind: Kind, key: str) -> tuple[str, ...]:
        if self._peek().kind != "(":
            raise self.fail(f"expected '(' and a list of values, got {describe(self._peek())}")
        self._take()
        values = [self._text_value(kind, key)]
        while self._peek().kind == ",":
            self._take()
            values.append(self._text_value(kind, key))
        if self._peek().kind != ")":
            raise self.fail(f"expected ',' or ')', got {describe(self._peek())}")
        self._take()
        return tuple(values)

    def _peek(self) -> Token:
        return self._tokens[self._at]

    def _take(self) -> Token:
        token = self._tokens[self._at]
        self._at = min(self._at + 1, len(self._tokens) - 1)
        return token

    def _is_keyword(self, *words: str) -> bool:
        token = self._peek()
        return token.kind == "word" and str(token.value).upper() in words
