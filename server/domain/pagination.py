"""Opaque page tokens: clients pass them back unchanged and must not parse them."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any, TypeVar

from server.domain.clock import from_micros, to_micros
from server.domain.errors import FieldViolation, InvalidArgument
from server.domain.models import Page
from server.domain.ports.store import ListCursor
from server.domain.response_budget import fit_oldest

__all__ = [
    "decode_page_token",
    "encode_page_token",
    "list_cursor",
    "malformed_page_token",
    "newest_first_page",
]

T = TypeVar("T")


def encode_page_token(position: dict[str, Any]) -> str:
    raw = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(
    token: str, *, bound_to: dict[str, Any], field: str = "page_token"
) -> dict[str, Any]:
    """Decodes a token made by ``encode_page_token``, sent in the request's ``field``.

    ``bound_to`` holds the request fields the token was issued for (session, filter);
    a token used with other values, or not made by us, is INVALID_ARGUMENT.
    """
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        position = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise malformed_page_token(field) from exc
    if not isinstance(position, dict):
        raise malformed_page_token(field)
    if any(position.get(key) != value for key, value in bound_to.items()):
        raise InvalidArgument(
            [FieldViolation(field, "was issued for a different request; start over")]
        )
    return position


def malformed_page_token(field: str = "page_token") -> InvalidArgument:
    return InvalidArgument([FieldViolation(field, "is malformed; pass the token back unchanged")])


# Newest-first listings (sessions, users) page on (created_at, id) of the last item.


def list_cursor(page_token: str, *, bound_to: dict[str, Any]) -> ListCursor | None:
    """Where a newest-first listing continues: None for the first page."""
    if not page_token:
        return None
    position = decode_page_token(page_token, bound_to=bound_to)
    created, identifier = position.get("created"), position.get("id")
    if isinstance(created, int) and isinstance(identifier, str):
        return from_micros(created), identifier
    raise malformed_page_token()


def newest_first_page(
    items: list[T],
    limit: int,
    cursor_of: Callable[[T], ListCursor],
    bound_to: dict[str, Any],
    *,
    size_of: Callable[[T], int],
    budget: int,
) -> Page[T]:
    """The page of ``items``, fetched with ``limit + 1`` to learn whether more follow;
    it ends early when the next item would take it over ``budget`` bytes."""
    fitted = fit_oldest(items[:limit], size_of, budget)
    if len(items) <= limit and not fitted.omitted:
        return Page(items, "")
    items = fitted.items
    created_at, identifier = cursor_of(items[-1])
    token = encode_page_token({**bound_to, "created": to_micros(created_at), "id": identifier})
    return Page(items, token)
