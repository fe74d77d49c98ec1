"""Opaque page tokens: an offset bound to the query it pages, so a token cannot be replayed elsewhere."""

from __future__ import annotations

import base64
import hashlib
import json

from modelreg.errors import InvalidInput, InvalidPageToken

__all__ = ["MAX_LIMIT", "check_limit", "decode_token", "encode_token"]

MAX_LIMIT = 1000


def check_limit(limit: object) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"invalid limit {limit!r}: expected an integer from 1 to {MAX_LIMIT}")
    return limit


def _fingerprint(query: object) -> str:
    return hashlib.sha256(json.dumps(query, sort_keys=True, default=str).encode()).hexdigest()[:16]


def encode_token(offset: int, query: object) -> str:
    raw = json.dumps({"o": offset, "q": _fingerprint(query)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str | None, query: object) -> int:
    """The offset a token stands for; 0 for no token. Raises ``InvalidPageToken``."""
    if token is None or token == "":
        return 0
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        body = json.loads(raw)
        offset = body["o"]
        valid = isinstance(offset, int) and offset >= 0 and body["q"] == _fingerprint(query)
    except (ValueError, KeyError, TypeError):
        valid = False
    if not valid:
        raise InvalidPageToken("invalid page token: it is malformed or belongs to another query")
    return int(offset)
