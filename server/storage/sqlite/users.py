"""User operations; each runs on the connection's thread."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from server.domain.clock import to_micros
from server.domain.errors import AlreadyExists
from server.domain.models import User, UserPatch, patch_changes
from server.domain.ports.store import ListCursor
from server.domain.tenancy import tenant_of
from server.storage.sqlite.connection import transaction
from server.storage.sqlite.rows import USER_COLUMNS, dump_json, update_assignments, user_from_row

__all__ = ["create_user", "delete_user", "get_user", "list_users", "update_user"]


def create_user(connection: sqlite3.Connection, user: User) -> User:
    try:
        connection.execute(
            f"INSERT INTO users ({USER_COLUMNS}, tenant) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                user.user_id,
                user.email,
                user.first_name,
                user.last_name,
                dump_json(user.metadata),
                to_micros(user.created_at),
                to_micros(user.updated_at),
                tenant_of(user.user_id),
            ),
        )
    except sqlite3.IntegrityError as exc:
        raise AlreadyExists("user", user.user_id) from exc
    return user


def get_user(connection: sqlite3.Connection, user_id: str) -> User | None:
    row = connection.execute(
        f"SELECT {USER_COLUMNS} FROM users WHERE user_id = ?", (user_id,)
    ).fetchone()
    return None if row is None else user_from_row(row)


def update_user(
    connection: sqlite3.Connection, user_id: str, patch: UserPatch, now: datetime
) -> User | None:
    assignments, values = update_assignments(patch_changes(patch), now)
    with transaction(connection, write=True):
        connection.execute(f"UPDATE users SET {assignments} WHERE user_id = ?", (*values, user_id))
        return get_user(connection, user_id)


def delete_user(connection: sqlite3.Connection, user_id: str) -> bool:
    return connection.execute("DELETE FROM users WHERE user_id = ?", (user_id,)).rowcount > 0


def list_users(
    connection: sqlite3.Connection, tenant: str, after: ListCursor | None, limit: int
) -> list[User]:
    where: str = "WHERE tenant = ?"
    values: tuple[object, ...] = (tenant,)
    if after is not None:  # the next page: after the cursor in (created_at, user_id) order
        where += " AND (created_at, user_id) < (?, ?)"
        values += (to_micros(after[0]), after[1])
    rows = connection.execute(
        f"SELECT {USER_COLUMNS} FROM users {where} ORDER BY created_at DESC, user_id DESC LIMIT ?",
        (*values, limit),
    ).fetchall()
    return [user_from_row(row) for row in rows]
