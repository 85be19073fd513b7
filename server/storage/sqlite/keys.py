"""Tenant and API key operations; each runs on the connection's thread."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from server.domain.api_keys import ApiKey
from server.domain.clock import from_micros, to_micros
from server.domain.errors import AlreadyExists, decodes
from server.storage.sqlite.connection import transaction

__all__ = ["create_key", "get_key", "list_keys", "record_key_use", "revoke_key"]

_COLUMNS = "key_id, tenant, secret_hash, description, created_at, last_used_at, revoked_at"


def create_key(connection: sqlite3.Connection, key: ApiKey) -> None:
    with transaction(connection, write=True):
        connection.execute(
            "INSERT OR IGNORE INTO tenants (tenant, created_at) VALUES (?, ?)",
            (key.tenant, to_micros(key.created_at)),
        )
        try:
            connection.execute(
                f"INSERT INTO api_keys ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, NULL, NULL)",
                (
                    key.key_id,
                    key.tenant,
                    key.secret_hash,
                    key.description,
                    to_micros(key.created_at),
                ),
            )
        except sqlite3.IntegrityError as exc:
            raise AlreadyExists("API key", key.key_id) from exc


def get_key(connection: sqlite3.Connection, key_id: str) -> ApiKey | None:
    row = connection.execute(
        f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = ?", (key_id,)
    ).fetchone()
    return None if row is None else _key_from_row(row)


def list_keys(connection: sqlite3.Connection, tenant: str | None) -> list[ApiKey]:
    where, values = ("WHERE tenant = ?", (tenant,)) if tenant is not None else ("", ())
    rows = connection.execute(
        f"SELECT {_COLUMNS} FROM api_keys {where} ORDER BY created_at, key_id", values
    ).fetchall()
    return [_key_from_row(row) for row in rows]


def revoke_key(connection: sqlite3.Connection, key_id: str, now: datetime) -> ApiKey | None:
    with transaction(connection, write=True):
        connection.execute(
            "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
            (to_micros(now), key_id),
        )
        return get_key(connection, key_id)


def record_key_use(connection: sqlite3.Connection, key_id: str, now: datetime) -> None:
    connection.execute(
        "UPDATE api_keys SET last_used_at = ?"
        " WHERE key_id = ? AND (last_used_at IS NULL OR last_used_at < ?)",
        (to_micros(now), key_id, to_micros(now)),
    )


@decodes("API key")
def _key_from_row(row: tuple[Any, ...]) -> ApiKey:
    key_id, tenant, secret_hash, description, created_at, last_used_at, revoked_at = row
    return ApiKey(
        key_id=key_id,
        tenant=tenant,
        secret_hash=secret_hash,
        description=description,
        created_at=from_micros(created_at),
        last_used_at=None if last_used_at is None else from_micros(last_used_at),
        revoked_at=None if revoked_at is None else from_micros(revoked_at),
    )
