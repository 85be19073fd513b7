"""Session operations; each runs on the connection's thread."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from server.domain.clock import to_micros
from server.domain.errors import AlreadyExists
from server.domain.models import Session, SessionPatch, patch_changes
from server.domain.ports.store import ListCursor
from server.domain.tenancy import tenant_of
from server.storage.sqlite.connection import transaction
from server.storage.sqlite.rows import (
    SESSION_COLUMNS,
    dump_json,
    session_from_row,
    update_assignments,
)
from server.storage.sqlite.search import delete_vector_pages
from server.storage.sqlite.summaries import delete_summary_state

__all__ = [
    "create_session",
    "delete_session",
    "get_session",
    "list_sessions",
    "update_session",
]


def create_session(connection: sqlite3.Connection, session: Session) -> Session:
    try:
        connection.execute(
            "INSERT INTO sessions (session_id, tenant, user_id, metadata, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            (
                session.session_id,
                tenant_of(session.session_id),
                session.user_id,
                dump_json(session.metadata),
                to_micros(session.created_at),
                to_micros(session.updated_at),
            ),
        )
    except sqlite3.IntegrityError as exc:
        raise AlreadyExists("session", session.session_id) from exc
    return session


def get_session(connection: sqlite3.Connection, session_id: str) -> Session | None:
    row = connection.execute(
        f"SELECT {SESSION_COLUMNS} FROM sessions WHERE session_id = ?", (session_id,)
    ).fetchone()
    return None if row is None else session_from_row(row)


def update_session(
    connection: sqlite3.Connection, session_id: str, patch: SessionPatch, now: datetime
) -> Session | None:
    assignments, values = update_assignments(patch_changes(patch), now)
    with transaction(connection, write=True):
        connection.execute(
            f"UPDATE sessions SET {assignments} WHERE session_id = ?",
            (*values, session_id),
        )
        return get_session(connection, session_id)


def delete_session(connection: sqlite3.Connection, session_id: str) -> bool:
    with transaction(connection, write=True):
        connection.execute("DELETE FROM messages WHERE session_id = ?", (session_id,))
        delete_summary_state(connection, session_id)
        delete_vector_pages(connection, session_id)
        deleted = connection.execute("DELETE FROM sessions WHERE session_id = ?", (session_id,))
        return deleted.rowcount > 0


def list_sessions(
    connection: sqlite3.Connection,
    tenant: str,
    user_id: str | None,
    after: ListCursor | None,
    limit: int,
) -> list[Session]:
    conditions: list[str] = ["tenant = ?"]
    values: list[object] = [tenant]
    if user_id is not None:
        conditions.append("user_id = ?")
        values.append(user_id)
    if after is not None:
        conditions.append("(created_at, session_id) < (?, ?)")
        values.extend((to_micros(after[0]), after[1]))
    where = f"WHERE {' AND '.join(conditions)}"
    rows = connection.execute(
        f"SELECT {SESSION_COLUMNS} FROM sessions {where}"
        " ORDER BY created_at DESC, session_id DESC LIMIT ?",
        (*values, limit),
    ).fetchall()
    return [session_from_row(row) for row in rows]
