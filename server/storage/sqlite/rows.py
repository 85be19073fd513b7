"""Conversions between SQLite rows and domain records, and reading messages by column."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Literal

from server.domain.clock import from_micros, to_micros
from server.domain.errors import decodes
from server.domain.models import ROLE_TYPES, JsonObject, Message, Session, Summary, User

__all__ = [
    "MESSAGE_COLUMNS",
    "SESSION_COLUMNS",
    "SUMMARY_COLUMNS",
    "USER_COLUMNS",
    "dump_json",
    "load_json",
    "message_from_row",
    "message_to_row",
    "messages_from_rows",
    "messages_where",
    "session_from_row",
    "summary_from_row",
    "summary_to_row",
    "user_from_row",
]

SESSION_COLUMNS = (
    "session_id, user_id, metadata, created_at, updated_at, message_count, token_count"
)
MESSAGE_COLUMNS = (
    "session_id, sequence, uuid, role, role_type, content, metadata, token_count, created_at"
)

USER_COLUMNS = "user_id, email, first_name, last_name, metadata, created_at, updated_at"

SUMMARY_COLUMNS = (
    "session_id, version, uuid, content, token_count, last_message_uuid,"
    " last_message_sequence, created_at"
)


def load_json(text: str) -> JsonObject:
    if text == "{}":  # the common case, and the decoder costs microseconds
        return {}
    value: JsonObject = json.loads(text)
    return value


def dump_json(value: JsonObject) -> str:
    if not value:  # most messages carry no metadata: skip the encoder
        return "{}"
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@decodes("session")
def session_from_row(row: tuple[Any, ...]) -> Session:
    session_id, user_id, metadata, created_at, updated_at, message_count, token_count = row
    return Session(
        session_id=session_id,
        user_id=user_id,
        metadata=load_json(metadata),
        created_at=from_micros(created_at),
        updated_at=from_micros(updated_at),
        message_count=message_count,
        token_count=token_count,
    )


@decodes("user")
def user_from_row(row: tuple[Any, ...]) -> User:
    user_id, email, first_name, last_name, metadata, created_at, updated_at = row
    return User(
        user_id=user_id,
        email=email,
        first_name=first_name,
        last_name=last_name,
        metadata=load_json(metadata),
        created_at=from_micros(created_at),
        updated_at=from_micros(updated_at),
    )


def _message(row: tuple[Any, ...]) -> Message:
    _, sequence, uuid, role, role_type, content, metadata, token_count, created_at = row
    return Message(
        uuid=uuid,
        sequence=sequence,
        role=role,
        role_type=ROLE_TYPES[role_type],
        content=content,
        metadata=load_json(metadata),
        token_count=token_count,
        created_at=from_micros(created_at),
    )


message_from_row = decodes("message")(_message)


@decodes("message")
def messages_from_rows(rows: Iterable[tuple[Any, ...]]) -> list[Message]:
    """Many rows under one guard: one wrapped call for a page, not one per row."""
    return [_message(row) for row in rows]


def message_to_row(session_id: str, message: Message) -> tuple[Any, ...]:
    return (
        session_id,
        message.sequence,
        message.uuid,
        message.role,
        message.role_type.value,
        message.content,
        dump_json(message.metadata),
        message.token_count,
        to_micros(message.created_at),
    )


@decodes("summary")
def summary_from_row(row: tuple[Any, ...]) -> Summary:
    _, version, uuid, content, token_count, last_uuid, last_sequence, created_at = row
    return Summary(
        uuid=uuid,
        content=content,
        token_count=token_count,
        last_message_uuid=last_uuid,
        last_message_sequence=last_sequence,
        created_at=from_micros(created_at),
        version=version,
    )


def summary_to_row(session_id: str, summary: Summary) -> tuple[Any, ...]:
    return (
        session_id,
        summary.version,
        summary.uuid,
        summary.content,
        summary.token_count,
        summary.last_message_uuid,
        summary.last_message_sequence,
        to_micros(summary.created_at),
    )


def update_assignments(changes: dict[str, Any], now: datetime) -> tuple[str, list[object]]:
    """The SET clause of an update and its values: ``changes`` by column (metadata
    as JSON) and ``updated_at``."""
    values = {**changes, "updated_at": to_micros(now)}
    if "metadata" in values:
        values["metadata"] = dump_json(values["metadata"])
    return ", ".join(f"{column} = ?" for column in values), list(values.values())


# SQLite limits the number of parameters of one statement.
_VALUES_PER_QUERY = 500


def messages_where(
    connection: sqlite3.Connection,
    session_id: str,
    column: Literal["uuid", "sequence"],
    values: Sequence[str] | Sequence[int],
) -> list[Message]:
    """The session's stored messages whose ``column`` is one of ``values``, in no
    particular order; a query per _VALUES_PER_QUERY values (SQLite bounds a
    statement's variables)."""
    found: list[Message] = []
    for start in range(0, len(values), _VALUES_PER_QUERY):
        chunk = values[start : start + _VALUES_PER_QUERY]
        rows = connection.execute(
            f"SELECT {MESSAGE_COLUMNS} FROM messages"
            f" WHERE session_id = ? AND {column} IN ({', '.join('?' * len(chunk))})",
            (session_id, *chunk),
        )
        found += messages_from_rows(rows)
    return found
