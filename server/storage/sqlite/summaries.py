"""Summary and lease operations; each runs on the connection's thread."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from server.domain.clock import to_micros
from server.domain.models import Summary
from server.storage.sqlite.connection import transaction
from server.storage.sqlite.rows import SUMMARY_COLUMNS, summary_from_row, summary_to_row

__all__ = [
    "acquire_summary_lease",
    "delete_summary_state",
    "get_summary",
    "release_summary_lease",
    "save_summary",
    "sessions_to_summarize",
]


def get_summary(connection: sqlite3.Connection, session_id: str) -> Summary | None:
    row = connection.execute(
        f"SELECT {SUMMARY_COLUMNS} FROM summaries WHERE session_id = ?", (session_id,)
    ).fetchone()
    return None if row is None else summary_from_row(row)


def save_summary(connection: sqlite3.Connection, session_id: str, summary: Summary) -> bool:
    # One write transaction: the checks and the write see the same state.
    with transaction(connection, write=True):
        covered = connection.execute(
            "SELECT 1 FROM messages WHERE session_id = ? AND sequence = ? AND uuid = ?",
            (session_id, summary.last_message_sequence, summary.last_message_uuid),
        ).fetchone()
        if covered is None:  # the session or the message is gone
            return False
        current = get_summary(connection, session_id)
        current_version = 0 if current is None else current.version
        current_sequence = 0 if current is None else current.last_message_sequence
        if summary.version != current_version + 1:
            return False
        if summary.last_message_sequence <= current_sequence:
            return False
        connection.execute(
            f"INSERT OR REPLACE INTO summaries ({SUMMARY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            summary_to_row(session_id, summary),
        )
    return True


def delete_summary_state(connection: sqlite3.Connection, session_id: str) -> None:
    """Deletes the summary and the lease of a session, inside the caller's transaction."""
    connection.execute("DELETE FROM summaries WHERE session_id = ?", (session_id,))
    connection.execute("DELETE FROM summary_leases WHERE session_id = ?", (session_id,))


def acquire_summary_lease(
    connection: sqlite3.Connection,
    session_id: str,
    owner: str,
    now: datetime,
    expires_at: datetime,
) -> bool:
    with transaction(connection, write=True):
        changed = connection.execute(
            "INSERT INTO summary_leases (session_id, owner, expires_at) VALUES (?, ?, ?)"
            " ON CONFLICT (session_id) DO UPDATE"
            " SET owner = excluded.owner, expires_at = excluded.expires_at"
            " WHERE summary_leases.owner = excluded.owner OR summary_leases.expires_at <= ?",
            (session_id, owner, to_micros(expires_at), to_micros(now)),
        )
        return changed.rowcount > 0


def release_summary_lease(connection: sqlite3.Connection, session_id: str, owner: str) -> None:
    connection.execute(
        "DELETE FROM summary_leases WHERE session_id = ? AND owner = ?", (session_id, owner)
    )


def sessions_to_summarize(
    connection: sqlite3.Connection, min_unsummarized: int, after: str | None, limit: int
) -> list[str]:
    # Messages after the covered point number at most message_count, and at most
    # last_sequence minus the covered point: both bounds must exceed the threshold.
    rows = connection.execute(
        "SELECT s.session_id FROM sessions AS s"
        " LEFT JOIN summaries AS m ON m.session_id = s.session_id"
        " WHERE s.session_id > ? AND s.message_count > ?"
        " AND s.last_sequence - COALESCE(m.last_message_sequence, 0) > ?"
        " ORDER BY s.session_id LIMIT ?",
        (after or "", min_unsummarized, min_unsummarized, limit),
    ).fetchall()
    return [session_id for (session_id,) in rows]
