"""Search filters and sort keys: MLflow's filter language, plus OR and parentheses, as a typed tree.

Every MLflow filter is accepted unchanged, e.g.
``name LIKE 'churn%' AND tags.`mlflow.prompt.is_prompt` != 'true'``; the tree is then compiled to SQL
with bound parameters by ``modelreg.metadata.search``, so user text never becomes SQL.

Grammar (keywords are case-insensitive; AND binds tighter than OR)::

    filter      := disjunction <end>
    disjunction := conjunction ("OR" conjunction)*
    conjunction := primary ("AND" primary)*
    primary     := "(" disjunction ")" | comparison
    comparison  := key ("=" | "!=" | "<>" | "<" | "<=" | ">" | ">=" | "LIKE" | "ILIKE") value
                 | key ["NOT"] "IN" "(" value ("," value)* ")"
    key         := segment ("." segment)*       -- [attribute(s). | tag(s). | metric(s). | param(s).] name
    segment     := word | `back-quoted` | "double-quoted"
    value       := 'single-quoted' | "double-quoted" | number
    order_by    := key ["ASC" | "DESC"]

Errors are ``InvalidFilter`` naming the 0-based character position and what was expected, e.g.
``invalid filter at position 12: expected a value after '>'``. See ``filter_fields`` for the fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from modelreg.errors import InvalidFilter
from modelreg.registry.filter_fields import (
    ATTRIBUTES,
    KEYED,
    MEMBERSHIP,
    PREFIXES,
    Kind,
    Scalar,
    Spec,
    Target,
    accepted_names,
    attribute_hint,
    canonical_attribute,
    check_value,
    prefix_hint,
)
from modelreg.registry.filter_tokens import Token, describe, error, tokenize

__all__ = [
    "MAX_COMPARISONS",
    "MAX_ORDER_KEYS",
    "And",
    "Comparison",
    "Expr",
    "Field",
    "Or",
    "OrderKey",
    "Target",
    "parse_filter",
    "parse_order_by",
]

MAX_COMPARISONS = 50  # each is an EXISTS or an indexed test; this bounds the cost of one query
MAX_ORDER_KEYS = 16
_MAX_DEPTH = 32  # nested parentheses; keeps the recursive descent far from Python's recursion limit
_PROMPT_TAG = "mlflow.prompt.is_prompt"


@dataclass(frozen=True, slots=True)
class Field:
    """What a comparison looks at. Attribute keys are canonical (``version``, never ``version_number``)."""

    kind: Kind
    key: str


@dataclass(frozen=True, slots=True)
class Comparison:
    field: Field
    op: str  # = != < <= > >= LIKE ILIKE IN "NOT IN"
    value: Scalar | tuple[Scalar, ...]  # a non-empty tuple exactly when op is IN / NOT IN


@dataclass(frozen=True, slots=True)
class And:
    terms: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Or:
    terms: tuple[Expr, ...]


Expr = Comparison | And | Or


@dataclass(frozen=True, slots=True)
class OrderKey:
    field: Field
    descending: bool


def parse_filter(text: str | None, *, target: Target) -> Expr | None:
    """The tree of ``text`` for searching ``target``; None when there is nothing to filter on."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    return _Parser(text, target, "filter").filter()


def parse_order_by(items: Sequence[str] | None, *, target: Target) -> list[OrderKey]:
    """One ``OrderKey`` per ``"key [ASC|DESC]"`` item, in order (ascending unless DESC)."""
    if items is None:
        return []
    if isinstance(items, str):  # a lone string is one item, not a sequence of characters
        items = [items]
    if len(items) > MAX_ORDER_KEYS:
        raise error(0, f"more than {MAX_ORDER_KEYS} sort keys", subject=f"order_by[{MAX_ORDER_KEYS}]")
    return [_Parser(item, target, f"order_by[{index}]").order_key() for index, item in enumerate(items)]


class _Parser:
    """Recursive descent over the token list; one instance per filter or order_by item."""

    def __init__(self, text: str, target: Target, subject: str) -> None:
        if not isinstance(text, str):
            raise error(0, f"expected text, got {type(text).__name__}", subject=subject)
        self._text = text
        self._tokens = tokenize(text, subject=subject)
        self._at = 0
        self._target = target
        self._subject = subject
        self._comparisons = 0

    # Grammar rules.

    def filter(self) -> Expr:
        expr = self._disjunction(0)
        token = self._peek()
        if token.kind == ")":
            raise self._fail(token, "unbalanced ')': no '(' to close")
        if token.kind != "end":
            raise self._expected("AND, OR or the end of the filter")
        return expr

    def order_key(self) -> OrderKey:
        start = self._peek()
        field, spec, label = self._field()
        if not spec.sortable:
            raise self._fail(start, f"cannot sort on {label}: a version can have several")
        descending = False
        if self._is_keyword(self._peek(), "ASC", "DESC"):
            descending = str(self._take().value).upper() == "DESC"
        if self._peek().kind != "end":
            raise self._expected("ASC, DESC or the end of the sort key")
        return OrderKey(field, descending)

    def _disjunction(self, depth: int) -> Expr:
        terms = [self._conjunction(depth)]
        while self._is_keyword(self._peek(), "OR"):
            self._take()
            terms.append(self._conjunction(depth))
        return _combine(Or, terms)

    def _conjunction(self, depth: int) -> Expr:
        terms = [self._primary(depth)]
        while self._is_keyword(self._peek(), "AND"):
            self._take()
            terms.append(self._primary(depth))
        return _combine(And, terms)

    def _primary(self, depth: int) -> Expr:
        token = self._peek()
        if token.kind != "(":
            return self._comparison()
        if depth >= _MAX_DEPTH:
            raise self._fail(token, f"parentheses nested deeper than {_MAX_DEPTH}")
        self._take()
        expr = self._disjunction(depth + 1)
        if self._peek().kind != ")":
            raise self._expected("')'", f" to close the '(' at position {token.pos}")
        self._take()
        return expr

    def _comparison(self) -> Comparison:
        start = self._peek()
        if start.kind == "end" or self._is_keyword(start, "AND", "OR") or start.kind == ")":
            raise self._expected("a comparison")
        if self._is_keyword(start, "NOT"):
            raise self._fail(start, "NOT is only supported as NOT IN; use != or NOT IN")
        self._comparisons += 1
        if self._comparisons > MAX_COMPARISONS:
            raise self._fail(start, f"more than {MAX_COMPARISONS} comparisons")
        field, spec, label = self._field()
        op, op_token = self._operator()
        if op not in spec.ops:
            raise self._fail(op_token, f"{label} does not support {op}; use one of: {spec.op_list()}")
        value: Scalar | tuple[Scalar, ...]
        if op in MEMBERSHIP:
            value = tuple(self._check(spec, label, op, token) for token in self._list())
        else:
            value = self._check(spec, label, op, self._value())
        return _mlflow_prompt_rule(Comparison(field, op, value))

    def _field(self) -> tuple[Field, Spec, str]:
        first = self._peek()
        segments = [self._segment()]
        while self._peek().kind == ".":
            self._take()
            segments.append(self._segment())
        last = segments[-1]
        label = self._text[first.pos : last.pos + len(last.text)]
        field = self._resolve(segments)
        spec = KEYED[field.kind] if field.kind != "attribute" else ATTRIBUTES[self._target][field.key]
        return field, spec, label

    def _resolve(self, segments: list[Token]) -> Field:
        first = segments[0]
        if len(segments) == 1:
            return Field("attribute", self._attribute(str(first.value), first))
        prefix = PREFIXES.get(str(first.value).lower()) if first.kind == "word" else None
        if prefix is None:
            raise self._fail(first, f"unknown prefix {describe(first)}: expected {prefix_hint(self._target)}")
        if prefix in ("metric", "param") and self._target == "models":
            raise self._fail(first, f"models have no {prefix}s: expected {prefix_hint(self._target)}")
        key = ".".join(str(segment.value) for segment in segments[1:])
        if prefix == "attribute":
            return Field("attribute", self._attribute(key, segments[1]))
        if not key:
            raise self._fail(segments[1], f"empty {prefix} key")
        return Field(prefix, key)

    def _attribute(self, name: str, where: Token) -> str:
        canonical = canonical_attribute(name, self._target)
        if canonical is None:
            message = f"unknown attribute {name[:60]!r} for {self._target}: {attribute_hint(self._target)}"
            raise error(where.pos, message, subject=self._subject, allowed=accepted_names(self._target))
        return canonical

    def _operator(self) -> tuple[str, Token]:
        token = self._peek()
        if token.kind == "op" or self._is_keyword(token, "LIKE", "ILIKE", "IN"):
            self._take()
            return str(token.value).upper(), token
        if self._is_keyword(token, "NOT"):
            self._take()
            if not self._is_keyword(self._peek(), "IN"):
                raise self._expected("IN")
            self._take()
            return "NOT IN", token
        raise self._expected("a comparison operator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN)")

    def _value(self) -> Token:
        if self._peek().kind not in ("string", "dquoted", "number"):
            raise self._expected("a value (a quoted string or a number)")
        return self._take()

    def _list(self) -> list[Token]:
        if self._peek().kind != "(":
            raise self._expected("'(' and a list of values")
        self._take()
        if self._peek().kind == ")":
            raise self._expected("at least one value")
        items = [self._value()]
        while self._peek().kind == ",":
            self._take()
            items.append(self._value())
        if self._peek().kind != ")":
            raise self._expected("',' or ')'")
        self._take()
        return items

    def _check(self, spec: Spec, label: str, op: str, token: Token) -> Scalar:
        try:
            return check_value(spec, label, op, token.value)
        except ValueError as exc:
            raise self._fail(token, str(exc)) from None

    def _segment(self) -> Token:
        if self._peek().kind not in ("word", "bquoted", "dquoted"):
            raise self._expected("a field name")
        return self._take()

    # Token access and messages.

    def _peek(self) -> Token:
        return self._tokens[self._at]

    def _take(self) -> Token:
        token = self._tokens[self._at]
        self._at = min(self._at + 1, len(self._tokens) - 1)  # 'end' is sticky
        return token

    @staticmethod
    def _is_keyword(token: Token, *words: str) -> bool:
        return token.kind == "word" and str(token.value).upper() in words

    def _fail(self, token: Token, message: str) -> InvalidFilter:
        return error(token.pos, message, subject=self._subject)

    def _expected(self, what: str, why: str = "") -> InvalidFilter:
        token = self._peek()
        after = f" after {describe(self._tokens[self._at - 1])}" if self._at > 0 else ""
        got = f", got {describe(token)}" if token.kind != "end" else ""
        return self._fail(token, f"expected {what}{after}{why}{got}")


def _combine(kind: type[And] | type[Or], terms: list[Expr]) -> Expr:
    """One term stays itself; nested terms of the same kind are flattened: (a AND b) AND c → AND(a, b, c)."""
    if len(terms) == 1:
        return terms[0]
    flat: list[Expr] = []
    for term in terms:
        flat.extend(term.terms if isinstance(term, kind) else (term,))
    return kind(tuple(flat))


def _mlflow_prompt_rule(comparison: Comparison) -> Comparison:
    """MLflow reads ``tags.`mlflow.prompt.is_prompt` = 'false'`` as "not a prompt": models lacking the tag
    match. Ours is the same as ``!= 'true'``, whose negative semantics already include them."""
    value = comparison.value
    is_false = isinstance(value, str) and value.lower() == "false"
    if comparison.field == Field("tag", _PROMPT_TAG) and comparison.op == "=" and is_false:
        return Comparison(comparison.field, "!=", "true")
    return comparison
