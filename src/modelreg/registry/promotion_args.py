"""The arguments of the promotion use cases, checked the same way by the registry and by the HTTP SDK (which
must refuse what the embedded SDK refuses before building a URL from it). Depends on nothing but errors."""

from __future__ import annotations

from modelreg.errors import InvalidInput

__all__ = ["STATUSES", "check_comment", "check_request_id", "check_status"]

STATUSES = ("pending", "applied", "rejected", "cancelled", "expired")
_MAX_COMMENT = 4096
_MAX_ID = 2**63 - 1  # a BIGINT primary key


def check_comment(comment: object) -> str:
    """'' for none; otherwise text of at most 4,096 characters (it goes into the audit trail)."""
    if comment is None:
        return ""
    if not isinstance(comment, str) or len(comment) > _MAX_COMMENT:
        raise InvalidInput(f"invalid comment: expected text of at most {_MAX_COMMENT} characters")
    return comment


def check_request_id(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _MAX_ID:
        raise InvalidInput(f"invalid promotion request id {str(value)[:40]!r}: expected a positive integer")
    return value


def check_status(status: object) -> str | None:
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"invalid status {str(status)[:40]!r}: expected one of {', '.join(STATUSES)}")
    return None if status is None else str(status)
