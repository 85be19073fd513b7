"""Building requests for a live server."""

from __future__ import annotations

from typing import Any

from google.protobuf import struct_pb2
from memoria.v1 import message_pb2

__all__ = ["SEED_CONVERSATION", "message", "struct"]


def struct(value: dict[str, Any]) -> struct_pb2.Struct:
    result = struct_pb2.Struct()
    result.update(value)
    return result


def message(
    content: str,
    role_type: int = message_pb2.ROLE_TYPE_USER,
    *,
    role: str = "",
    uuid: str = "",
    metadata: dict[str, Any] | None = None,
) -> message_pb2.Message:
    return message_pb2.Message(
        content=content,
        role_type=role_type,  # type: ignore[arg-type]
        role=role,
        uuid=uuid,
        metadata=struct(metadata or {}),
    )


# The conversation of the client documentation Memoria is built to.
SEED_CONVERSATION = [
    message("Who was Octavia Butler?", message_pb2.ROLE_TYPE_USER, role="Jane"),
    message(
        "Octavia Estelle Butler (June 22, 1947 – February 24, 2006) was an American"
        " science fiction author.",
        message_pb2.ROLE_TYPE_ASSISTANT,
        role="HistoryBot",
    ),
    message(
        "Which books of hers were made into movies?",
        message_pb2.ROLE_TYPE_USER,
        role="Jane",
        metadata={"foo": "bar"},
    ),
]
