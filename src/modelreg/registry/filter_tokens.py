"""The tokenizer behind search filters and ``order_by`` items.

It turns text into a flat list of tokens, each remembering its 0-based character offset, so every error
can say where it is: ``invalid filter at position 12: expected a value after '>'``.

Token kinds::

    word      bare identifier or keyword      name  AND  not  tags  (after '.', digits may lead: metrics.1st)
    string    '…' quoted text                 'it''s'  'it\\'s'
    dquoted   "…" text: a key segment or a value, the parser decides from where it stands
    bquoted   `…` key segment                 tags.`my.key`
    number    int or float                    3  -1  0.5  .5  1e-3
    op        = != <> < <= > >=               ('<>' is read as '!=')
    ( ) , .   punctuation
    end       end of input (position = len(text))

Inside quotes the quote character is escaped by doubling it or with a backslash, and ``\\\\`` is one
backslash. Any other backslash is kept as written, so LIKE escapes such as ``'a\\_b'`` reach the pattern.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from modelreg.errors import InvalidFilter

__all__ = ["MAX_LENGTH", "Token", "TokenKind", "describe", "error", "tokenize"]

MAX_LENGTH = 4096  # characters; bounds parse time and the number of bound parameters

TokenKind = Literal["word", "string", "dquoted", "bquoted", "number", "op", "(", ")", ",", ".", "end"]

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SEGMENT = re.compile(r"[A-Za-z0-9_]+")  # right after a '.', where a number cannot stand
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_OPERATOR = re.compile(r"!=|<>|<=|>=|=|<|>")
_SPACE = re.compile(r"\s+")
_QUOTES: dict[str, TokenKind] = {"'": "string", '"': "dquoted", "`": "bquoted"}
_PUNCTUATION: dict[str, TokenKind] = {"(": "(", ")": ")", ",": ","}
_KEY_SEGMENTS = ("word", "dquoted", "bquoted")
_INT64 = 2**63  # SQLite binds nothing wider; PostgreSQL's bigint is the same range


@dataclass(frozen=True, slots=True)
class Token:
    kind: TokenKind
    value: str | int | float
    pos: int
    text: str  # the source text, for messages


def error(position: int, message: str, *, subject: str = "filter", **details: object) -> InvalidFilter:
    """The one error shape: where (0-based offset) and what was expected."""
    return InvalidFilter(
        f"invalid {subject} at position {position}: {message}", details={"position": position, **details}
    )


def describe(token: Token) -> str:
    """How a token is named in an error message."""
    if token.kind == "end":
        return "end of input"
    shown = token.text if len(token.text) <= 40 else token.text[:37] + "..."
    return repr(shown)


def tokenize(text: str, *, subject: str = "filter") -> list[Token]:
    """Split ``text`` into tokens; raise ``InvalidFilter`` at the first character that starts none."""
    _check_characters(text, subject)
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        space = _SPACE.match(text, pos)
        if space:
            pos = space.end()
            continue
        token = _next_token(text, pos, tokens[-1] if tokens else None, subject)
        tokens.append(token)
        pos += len(token.text)
    tokens.append(Token("end", "", len(text), ""))
    return tokens


def _check_characters(text: str, subject: str) -> None:
    if len(text) > MAX_LENGTH:
        raise error(MAX_LENGTH, f"longer than {MAX_LENGTH} characters", subject=subject)
    for pos, char in enumerate(text):
        # NUL is refused by PostgreSQL text and lone surrogates cannot be encoded: both would fail in the
        # database driver (a 500) instead of here.
        if char == "\0" or "\ud800" <= char <= "\udfff":
            raise error(pos, f"character {char!r} is not allowed", subject=subject)


def _next_token(text: str, pos: int, previous: Token | None, subject: str) -> Token:
    char = text[pos]
    if char in _QUOTES:
        return _quoted(text, pos, subject)
    if char in _PUNCTUATION:
        return Token(_PUNCTUATION[char], char, pos, char)
    previous_kind = previous.kind if previous else "end"
    word = (_SEGMENT if previous_kind == "." else _WORD).match(text, pos)
    if word:
        return Token("word", word.group(), pos, word.group())
    # After a key segment '.' always joins segments; elsewhere '.5' is a number.
    if char == "." and (previous_kind in _KEY_SEGMENTS or not _NUMBER.match(text, pos)):
        return Token(".", ".", pos, ".")
    return _number_or_operator(text, pos, subject)


def _number_or_operator(text: str, pos: int, subject: str) -> Token:
    number = _NUMBER.match(text, pos)
    if number:
        return _number(text, number.group(), pos, subject)
    operator = _OPERATOR.match(text, pos)
    if operator:
        symbol = operator.group()
        return Token("op", "!=" if symbol == "<>" else symbol, pos, symbol)
    raise error(pos, f"unexpected character {text[pos]!r}", subject=subject)


def _number(text: str, literal: str, pos: int, subject: str) -> Token:
    end = pos + len(literal)
    if end < len(text) and (text[end].isalnum() or text[end] in "_."):
        raise error(pos, f"invalid number {text[pos : end + 1]!r}", subject=subject)
    value: int | float
    if any(c in literal for c in ".eE"):
        value = float(literal)
    else:
        value = int(literal)
        if not -_INT64 <= value < _INT64:
            raise error(pos, f"integer {literal[:40]} is out of range", subject=subject)
    return Token("number", value, pos, literal)


def _quoted(text: str, start: int, subject: str) -> Token:
    quote = text[start]
    chars: list[str] = []
    pos = start + 1
    while pos < len(text):
        char = text[pos]
        following = text[pos + 1] if pos + 1 < len(text) else ""
        if char == quote and following == quote:
            chars.append(quote)
            pos += 2
        elif char == quote:
            return Token(_QUOTES[quote], "".join(chars), start, text[start : pos + 1])
        elif char == "\\" and following in (quote, "\\"):
            chars.append(following)
            pos += 2
        else:
            chars.append(char)
            pos += 1
    raise error(start, f"no closing {quote} for the text that starts here", subject=subject)
