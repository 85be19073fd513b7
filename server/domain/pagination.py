"""Opaque page tokens: clients pass them back unchanged and must not parse them."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from server.domain.errors import FieldViolation, InvalidArgument

__all__ = ["decode_page_token", "encode_page_token", "malformed_page_token"]


def encode_page_token(position: dict[str, Any]) -> str:
    raw = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str, *, bound_to: dict[str, Any]) -> dict[str, Any]:
    """Decodes a token made by ``encode_page_token``.

    ``bound_to`` holds the request fields the token was issued for (session, filter);
    a token used with other values, or not made by us, is INVALID_ARGUMENT.
    """
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        position = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise malformed_page_token() from exc
    if not isinstance(position, dict):
        raise malformed_page_token()
    if any(position.get(key) != value for key, value in bound_to.items()):
        raise InvalidArgument(
            [FieldViolation("page_token", "was issued for a different request; start over")]
        )
    return position


def malformed_page_token() -> InvalidArgument:
    return InvalidArgument(
        [FieldViolation("page_token", "is malformed; pass next_page_token back unchanged")]
    )
