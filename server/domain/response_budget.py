"""Responses a client can receive: every list and memory response stays under a
byte budget (``Limits.max_response_bytes``, 4 MiB by default: what gRPC clients
accept unless told otherwise).

Sizes are upper bounds of the encoded protobuf, computed from the records:
content and role in UTF-8 bytes, metadata at six times its compact JSON (a
``google.protobuf.Struct`` of small numbers costs up to about 5.5 times its
JSON), plus the fixed fields.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from server.domain.models import JsonObject, Message, Session, Summary, User

__all__ = [
    "Fitted",
    "fit_newest",
    "fit_oldest",
    "message_bytes",
    "session_bytes",
    "summary_bytes",
    "user_bytes",
]

T = TypeVar("T")

# uuid, sequence, role type, token count, timestamps and field framing.
_RECORD_OVERHEAD = 192
_STRUCT_PER_JSON_BYTE = 6
# What a response costs beyond its records (page token, counters, framing).
RESPONSE_OVERHEAD = 1024


def _text_bytes(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def metadata_bytes(metadata: JsonObject) -> int:
    if not metadata:
        return 0
    text = json.dumps(metadata, separators=(",", ":"), ensure_ascii=False)
    return _STRUCT_PER_JSON_BYTE * _text_bytes(text) + 16


def message_bytes(message: Message) -> int:
    return (
        _RECORD_OVERHEAD
        + _text_bytes(message.content)
        + _text_bytes(message.role)
        + metadata_bytes(message.metadata)
    )


def summary_bytes(summary: Summary) -> int:
    return _RECORD_OVERHEAD + _text_bytes(summary.content)


def session_bytes(session: Session) -> int:
    return (
        _RECORD_OVERHEAD
        + _text_bytes(session.session_id)
        + _text_bytes(session.user_id or "")
        + metadata_bytes(session.metadata)
    )


def user_bytes(user: User) -> int:
    texts = (user.user_id, user.email, user.first_name, user.last_name)
    return _RECORD_OVERHEAD + sum(map(_text_bytes, texts)) + metadata_bytes(user.metadata)


@dataclass(frozen=True, slots=True)
class Fitted(Generic[T]):
    """The records that fit, in their order, and how many were left out."""

    items: list[T]
    omitted: int


def fit_oldest(items: Sequence[T], size_of: Callable[[T], int], budget: int) -> Fitted[T]:
    """The longest prefix of ``items`` within ``budget`` bytes (at least one item:
    configuration keeps a single record under the budget)."""
    total = RESPONSE_OVERHEAD
    for index, item in enumerate(items):
        total += size_of(item)
        if total > budget and index > 0:
            return Fitted(list(items[:index]), len(items) - index)
    return Fitted(list(items), 0)


def fit_newest(items: Sequence[T], size_of: Callable[[T], int], budget: int) -> Fitted[T]:
    """The longest suffix of ``items`` within ``budget`` bytes (at least one item)."""
    total = RESPONSE_OVERHEAD
    for count, item in enumerate(reversed(items)):
        total += size_of(item)
        if total > budget and count > 0:
            start = len(items) - count
            return Fitted(list(items[start:]), start)
    return Fitted(list(items), 0)
