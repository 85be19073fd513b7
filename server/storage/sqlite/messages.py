"""Message operations; each runs on the connection's thread."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from server.domain.append_merge import merge_append
from server.domain.clock import to_micros
from server.domain.models import AppendResult, JsonObject, Message, NewMessage
from server.domain.tenancy import tenant_of
from server.storage.sqlite.connection import transaction
from server.storage.sqlite.rows import (
    MESSAGE_COLUMNS,
    dump_json,
    message_from_row,
    message_to_row,
    messages_from_rows,
    messages_where,
)
from server.storage.sqlite.search import delete_vector_pages
from server.storage.sqlite.summaries import delete_summary_state

__all__ = [
    "append_messages",
    "delete_messages",
    "get_message",
    "list_messages",
    "recent_messages",
    "replace_message_metadata",
]


def append_messages(
    connection: sqlite3.Connection,
    session_id: str,
    messages: Sequence[NewMessage],
    now: datetime,
) -> AppendResult:
    now_micros = to_micros(now)
    # The write lock is held for the whole transaction, so concurrent appends to
    # a session are serialized and each batch gets consecutive sequences.
    with transaction(connection, write=True):
        row = connection.execute(
            "SELECT last_sequence FROM sessions WHERE session_id = ?", (session_id,)
        ).fetchone()
        if row is None:
            connection.execute(
                "INSERT INTO sessions (session_id, tenant, user_id, metadata, created_at,"
                " updated_at) VALUES (?, ?, NULL, '{}', ?, ?)",
                (session_id, tenant_of(session_id), now_micros, now_micros),
            )
            last_sequence = 0
        else:
            (last_sequence,) = row
        result = _insert_all_new(connection, session_id, messages, last_sequence)
        if result is None:  # some uuids were stored already: look them up
            result = _insert_new_ones(connection, session_id, messages, last_sequence)
        added = [message for message in result.messages if message.sequence > last_sequence]
        if added:
            connection.execute(
                "UPDATE sessions SET last_sequence = ?, message_count = message_count + ?,"
                " token_count = token_count + ?, updated_at = ? WHERE session_id = ?",
                (
                    last_sequence + len(added),
                    len(added),
                    sum(m.token_count for m in added),
                    now_micros,
                    session_id,
                ),
            )
    return result


_INSERT = f"INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
_INSERT_IF_NEW = _INSERT.replace("INSERT", "INSERT OR IGNORE", 1)


def _insert_all_new(
    connection: sqlite3.Connection,
    session_id: str,
    messages: Sequence[NewMessage],
    last_sequence: int,
) -> AppendResult | None:
    """The common case, in one statement: inserts every message, assuming none is stored.

    The unique index checks each uuid anyway, so a separate lookup would probe it
    twice. When a uuid turns out to be stored (fewer rows inserted), rolls back
    to before the insert and returns None.
    """
    stored = [new.stored_at(last_sequence + n) for n, new in enumerate(messages, start=1)]
    rows = [message_to_row(session_id, message) for message in stored]
    if len(rows) == 1:  # the usual AddMemory: a row ignored left nothing to undo
        inserted = connection.execute(_INSERT_IF_NEW, rows[0])
        return AppendResult(stored, 1) if inserted.rowcount == 1 else None
    connection.execute("SAVEPOINT append_all")
    inserted = connection.executemany(_INSERT_IF_NEW, rows)
    if inserted.rowcount == len(rows):
        connection.execute("RELEASE append_all")
        return AppendResult(stored, len(stored))
    connection.execute("ROLLBACK TO append_all")
    connection.execute("RELEASE append_all")
    return None


def _insert_new_ones(
    connection: sqlite3.Connection,
    session_id: str,
    messages: Sequence[NewMessage],
    last_sequence: int,
) -> AppendResult:
    stored = _stored_by_uuid(connection, session_id, [m.uuid for m in messages])
    merge = merge_append(messages, stored, last_sequence + 1)
    connection.executemany(_INSERT, [message_to_row(session_id, m) for m in merge.new])
    return merge.appended()


def _stored_by_uuid(
    connection: sqlite3.Connection, session_id: str, uuids: list[str]
) -> dict[str, Message]:
    return {m.uuid: m for m in messages_where(connection, session_id, "uuid", uuids)}


def _session_exists(connection: sqlite3.Connection, session_id: str) -> bool:
    row = connection.execute("SELECT 1 FROM sessions WHERE session_id = ?", (session_id,))
    return row.fetchone() is not None


def _rows_of_session(
    connection: sqlite3.Connection, session_id: str, query: str, parameters: tuple[object, ...]
) -> list[tuple[object, ...]] | None:
    """The rows ``query`` finds among one session's messages; None when the session
    does not exist. A session's messages are stored and deleted in the same
    transaction as the session itself, so rows found prove it exists: one
    statement in the common case, and only an empty result is checked again."""
    rows: list[tuple[object, ...]] = connection.execute(query, parameters).fetchall()
    if rows:
        return rows
    with transaction(connection, write=False):
        if not _session_exists(connection, session_id):
            return None
        found: list[tuple[object, ...]] = connection.execute(query, parameters).fetchall()
        return found


def recent_messages(
    connection: sqlite3.Connection, session_id: str, limit: int
) -> list[Message] | None:
    rows = _rows_of_session(
        connection,
        session_id,
        f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE session_id = ?"
        " ORDER BY sequence DESC LIMIT ?",
        (session_id, limit),
    )
    return None if rows is None else messages_from_rows(reversed(rows))


def list_messages(
    connection: sqlite3.Connection, session_id: str, after_sequence: int, limit: int
) -> list[Message] | None:
    rows = _rows_of_session(
        connection,
        session_id,
        f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE session_id = ? AND sequence > ?"
        " ORDER BY sequence LIMIT ?",
        (session_id, after_sequence, limit),
    )
    return None if rows is None else messages_from_rows(rows)


def get_message(connection: sqlite3.Connection, session_id: str, uuid: str) -> Message | None:
    row = connection.execute(
        f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE session_id = ? AND uuid = ?",
        (session_id, uuid),
    ).fetchone()
    return None if row is None else message_from_row(row)


def replace_message_metadata(
    connection: sqlite3.Connection, session_id: str, uuid: str, metadata: JsonObject
) -> Message | None:
    with transaction(connection, write=True):
        message = get_message(connection, session_id, uuid)
        if message is None:
            return None
        connection.execute(
            "UPDATE messages SET metadata = ? WHERE session_id = ? AND sequence = ?",
            (dump_json(metadata), session_id, message.sequence),
        )
    return replace(message, metadata=metadata)


def delete_messages(connection: sqlite3.Connection, session_id: str, now: datetime) -> bool:
    with transaction(connection, write=True):
        connection.execute("DELETE FROM messages WHERE session_id = ?", (session_id,))
        delete_summary_state(connection, session_id)
        delete_vector_pages(connection, session_id)
        updated = connection.execute(
            "UPDATE sessions SET message_count = 0, token_count = 0, updated_at = ?"
            " WHERE session_id = ?",
            (to_micros(now), session_id),
        )
        return updated.rowcount > 0
