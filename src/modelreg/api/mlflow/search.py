"""MLflow's search requests over the registry's searches: limits, page tokens, filters, latest per stage.

**Page tokens.** MLflow's are ``base64({"offset": N})``, opaque to its client. Ours carry the offset too,
and beside it the registry's own token for that offset, which binds the page to its query (a token from
another query is refused rather than silently paging something else)::

    base64({"offset": 250, "token": "<registry page token>"})

A search asks the registry for at most ``MAX_LIMIT`` (1,000) items at a time, so MLflow's larger pages
(``search_model_versions`` takes up to 200,000) are collected over several registry pages.

**Filters.** The registry parses MLflow's grammar itself (``registry.filters``). The one key it lacks is
``source_path``, a version's MLflow ``source``, which lives in a reserved tag: the key is rewritten to
``tags.`modelreg.mlflow.source``` before the registry sees the filter (values are never touched).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from modelreg.api.mlflow.messages import SOURCE_TAG
from modelreg.api.mlflow.requests import Message
from modelreg.errors import InvalidInput, InvalidPageToken
from modelreg.registry.filter_tokens import Token, tokenize
from modelreg.registry.paging import MAX_LIMIT
from modelreg.registry.service import Registry
from modelreg.types import STAGES, ModelVersion, Page, Stage

__all__ = [
    "MODELS_DEFAULT",
    "MODELS_MAX",
    "VERSIONS_DEFAULT",
    "VERSIONS_DEFAULT_ORDER",
    "VERSIONS_MAX",
    "collect",
    "decode_page_token",
    "latest_per_stage",
    "max_results",
    "version_filter",
]

T = TypeVar("T")

# MLflow's SQL store: search_registered_models 100 by default, at most 1,000; search_model_versions 10,000
# by default (its client's default too, so one call normally returns every match), at most 200,000.
MODELS_DEFAULT, MODELS_MAX = 100, 1000
VERSIONS_DEFAULT, VERSIONS_MAX = 10_000, 200_000
VERSIONS_DEFAULT_ORDER = ("last_updated_timestamp DESC", "name ASC", "version_number DESC")

_SOURCE_KEY = f"tags.`{SOURCE_TAG}`"
_ATTRIBUTE_PREFIXES = ("attribute", "attributes")
_BOUNDARY_WORDS = ("AND", "OR")


def max_results(message: Message, *, default: int, maximum: int) -> int:
    """The ``max_results`` of a search request: ``default`` when absent, else 1 to ``maximum``."""
    value = message.integer("max_results")
    if value is None:
        return default
    if not 1 <= value <= maximum:
        raise InvalidInput(
            f"Invalid value for request parameter max_results. It must be a positive integer at most "
            f"{maximum}, but got value {value}",
            details={"parameter": "max_results"},
        )
    return value


def decode_page_token(token: str | None) -> tuple[int, str | None]:
    """The offset and the registry's own token in an MLflow page token; (0, None) for none."""
    if not token:
        return 0, None
    try:
        body = json.loads(base64.b64decode(token, validate=True))
        offset, inner = body["offset"], body.get("token")
        valid = isinstance(offset, int) and offset >= 0 and (inner is None or isinstance(inner, str))
    except (binascii.Error, ValueError, KeyError, TypeError, AttributeError):
        valid = False
    if not valid or (inner is None and offset != 0):
        raise InvalidPageToken("Invalid page token: it is malformed or was not issued by this server")
    return offset, inner


def _encode_page_token(offset: int, inner: str) -> str:
    # json.dumps' default separators, as MLflow's SearchUtils.create_page_token writes its tokens.
    return base64.b64encode(json.dumps({"offset": offset, "token": inner}).encode()).decode()


def collect(
    search: Callable[[int, str | None], Page[T]], *, wanted: int, page_token: str | None
) -> tuple[list[T], str | None]:
    """Up to ``wanted`` items from a registry search, ``search(limit, token)``, starting where
    ``page_token`` (an MLflow one) says; and the MLflow token of what follows, or None at the end."""
    offset, token = decode_page_token(page_token)
    items: list[T] = []
    while True:
        page = search(min(MAX_LIMIT, wanted - len(items)), token)
        items.extend(page.items)
        token = page.next_page_token
        if token is None:
            return items, None
        if len(items) >= wanted:
            return items, _encode_page_token(offset + len(items), token)


def version_filter(text: str | None) -> str | None:
    """MLflow's filter for versions in the registry's terms: ``source_path`` (or ``attribute.source_path``)
    as a key becomes the reserved source tag. Tokens keep their positions, so only key text is replaced."""
    if text is None or "source_path" not in text.lower():
        return text
    tokens = tokenize(text)
    pieces: list[str] = []
    copied = 0
    for index, token in enumerate(tokens):
        start = _source_key_start(tokens, index)
        if start is not None:
            pieces.append(text[copied:start])
            pieces.append(_SOURCE_KEY)
            copied = token.pos + len(token.text)
    pieces.append(text[copied:])
    return "".join(pieces)


def _source_key_start(tokens: list[Token], index: int) -> int | None:
    """Where the key ending in tokens[index] starts, when that key is MLflow's ``source_path`` attribute."""
    token = tokens[index]
    if token.kind != "word" or str(token.value).lower() != "source_path":
        return None
    before = tokens[index - 1] if index > 0 else None
    if before is None or before.kind == "(" or _is_word(before, _BOUNDARY_WORDS):
        return token.pos
    prefix = tokens[index - 2] if index > 1 else None
    if before.kind == "." and prefix is not None and _is_word(prefix, _ATTRIBUTE_PREFIXES):
        start = tokens[index - 3] if index > 2 else None
        if start is None or start.kind == "(" or _is_word(start, _BOUNDARY_WORDS):
            return prefix.pos
    return None


def _is_word(token: Token, words: Iterable[str]) -> bool:
    return token.kind == "word" and str(token.value).upper() in {word.upper() for word in words}


def latest_per_stage(
    registry: Registry, names: Sequence[str], *, stages: Sequence[Stage] = STAGES
) -> dict[str, list[ModelVersion]]:
    """The newest live version of each of ``stages``, per model (MLflow's ``latest_versions``)."""
    found = registry.latest_versions(names, stages=stages)
    return {name: found.get(name, []) for name in names}
