from __future__ import annotations

import pytest

from server.domain.errors import InvalidArgument
from server.domain.pagination import decode_page_token, encode_page_token


def test_token_round_trips_and_is_url_safe() -> None:
    token = encode_page_token({"session": "s/1", "after": 42})
    assert token.isascii() and "=" not in token and "/" not in token
    assert decode_page_token(token, bound_to={"session": "s/1"})["after"] == 42


@pytest.mark.parametrize("token", ["%%%", "bm90IGpzb24", "WzFd"])  # garbage, "not json", "[1]"
def test_malformed_tokens_are_invalid_argument(token: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        decode_page_token(token, bound_to={})
    assert [v.field for v in raised.value.violations] == ["page_token"]


def test_token_bound_to_other_request_is_rejected() -> None:
    token = encode_page_token({"session": "a", "after": 1})
    with pytest.raises(InvalidArgument, match="different request"):
        decode_page_token(token, bound_to={"session": "b"})
