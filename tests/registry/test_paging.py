"""Opaque page tokens bound to their query."""

from __future__ import annotations

import pytest

from modelreg.errors import InvalidInput, InvalidPageToken
from modelreg.registry.paging import check_limit, decode_token, encode_token


def test_round_trip_and_binding() -> None:
    token = encode_token(200, ("search", "name = 'x'"))
    assert decode_token(token, ("search", "name = 'x'")) == 200
    assert decode_token(None, "anything") == 0
    with pytest.raises(InvalidPageToken):
        decode_token(token, ("search", "name = 'y'"))


@pytest.mark.parametrize("token", ["!!", "e30", "eyJvIjogLTF9", "a" * 10])
def test_garbage_is_refused(token: str) -> None:
    with pytest.raises(InvalidPageToken) as caught:
        decode_token(token, "q")
    assert caught.value.code == "INVALID_PAGE_TOKEN"


@pytest.mark.parametrize("limit", [0, -5, 1001, True, 2.5, "10"])
def test_limits(limit: object) -> None:
    with pytest.raises(InvalidInput):
        check_limit(limit)
    assert check_limit(1000) == 1000
