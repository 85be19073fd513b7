"""Numbered schema migrations; ``PRAGMA user_version`` records the last one applied."""

from __future__ import annotations

import sqlite3

__all__ = ["migrate"]

# Times are integer microseconds since the epoch, UTC. Metadata is JSON text.
MIGRATIONS: list[str] = [
    # 1: sessions and messages
    """
    CREATE TABLE sessions (
        session_id    TEXT PRIMARY KEY,
        user_id       TEXT,
        metadata      TEXT NOT NULL,
        created_at    INTEGER NOT NULL,
        updated_at    INTEGER NOT NULL,
        message_count INTEGER NOT NULL DEFAULT 0,
        token_count   INTEGER NOT NULL DEFAULT 0,
        last_sequence INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX sessions_newest_first ON sessions (created_at DESC, session_id DESC);
    CREATE INDEX sessions_by_user ON sessions (user_id, created_at DESC, session_id DESC);
    CREATE TABLE messages (
        session_id  TEXT NOT NULL,
        sequence    INTEGER NOT NULL,
        uuid        TEXT NOT NULL,
        role        TEXT NOT NULL,
        role_type   TEXT NOT NULL,
        content     TEXT NOT NULL,
        metadata    TEXT NOT NULL,
        token_count INTEGER NOT NULL,
        created_at  INTEGER NOT NULL,
        PRIMARY KEY (session_id, sequence)
    ) WITHOUT ROWID;
    CREATE UNIQUE INDEX messages_uuid ON messages (session_id, uuid);
    """,
    # 2: rolling summaries (one row per session, replaced by compare-and-set on
    # version) and the leases that let one process at a time fold a session
    """
    CREATE TABLE summaries (
        session_id            TEXT PRIMARY KEY,
        version               INTEGER NOT NULL,
        uuid                  TEXT NOT NULL,
        content               TEXT NOT NULL,
        token_count           INTEGER NOT NULL,
        last_message_uuid     TEXT NOT NULL,
        last_message_sequence INTEGER NOT NULL,
        created_at            INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE summary_leases (
        session_id TEXT PRIMARY KEY,
        owner      TEXT NOT NULL,
        expires_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    """,
    # 3: users, which own the sessions naming them in sessions.user_id
    """
    CREATE TABLE users (
        user_id    TEXT PRIMARY KEY,
        email      TEXT NOT NULL,
        first_name TEXT NOT NULL,
        last_name  TEXT NOT NULL,
        metadata   TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX users_newest_first ON users (created_at DESC, user_id DESC);
    """,
    # 4: tenants. Keys of sessions and users carry their tenant (domain.tenancy);
    # the column lets listings stay within one. Rows from before are the default
    # tenant's.
    """
    ALTER TABLE sessions ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';
    ALTER TABLE users ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';
    DROP INDEX sessions_newest_first;
    DROP INDEX users_newest_first;
    CREATE INDEX sessions_newest_first ON sessions
        (tenant, created_at DESC, session_id DESC);
    CREATE INDEX users_newest_first ON users (tenant, created_at DESC, user_id DESC);
    """,
    # 5: tenants and their API keys (the SHA-256 of each secret, never the secret)
    """
    CREATE TABLE tenants (
        tenant     TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE api_keys (
        key_id       TEXT PRIMARY KEY,
        tenant       TEXT NOT NULL REFERENCES tenants (tenant),
        secret_hash  TEXT NOT NULL,
        description  TEXT NOT NULL,
        created_at   INTEGER NOT NULL,
        last_used_at INTEGER,
        revoked_at   INTEGER
    ) WITHOUT ROWID;
    CREATE INDEX api_keys_by_tenant ON api_keys (tenant, created_at, key_id);
    """,
    # 6: search. Each indexed message has a row of its analyzed terms (space-separated,
    # in order, repeats kept), later its int8 embedding and scale, and the token of
    # its session (``scope``). An FTS5 index over terms and scope finds the messages
    # of some sessions that hold a query term. Deleting a message deletes its row
    # (trigger) and the row's FTS5 entry (trigger). The sessions' marks say how far
    # indexing has got.
    """
    ALTER TABLE sessions ADD COLUMN terms_through INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE sessions ADD COLUMN vectors_through INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE message_index (
        id       INTEGER PRIMARY KEY,
        session_id TEXT NOT NULL,
        sequence INTEGER NOT NULL,
        uuid     TEXT NOT NULL,
        scope    TEXT NOT NULL,
        terms    TEXT NOT NULL,
        length   INTEGER NOT NULL,
        vector   BLOB,
        scale    REAL
    );
    CREATE UNIQUE INDEX message_index_position ON message_index (session_id, sequence);
    CREATE VIRTUAL TABLE message_index_fts USING fts5(
        terms, scope, content = 'message_index', content_rowid = 'id',
        tokenize = 'unicode61 remove_diacritics 0'
    );
    CREATE TRIGGER message_index_added AFTER INSERT ON message_index BEGIN
        INSERT INTO message_index_fts (rowid, terms, scope)
        VALUES (new.id, new.terms, new.scope);
    END;
    CREATE TRIGGER message_index_removed AFTER DELETE ON message_index BEGIN
        INSERT INTO message_index_fts (message_index_fts, rowid, terms, scope)
        VALUES ('delete', old.id, old.terms, old.scope);
    END;
    CREATE TRIGGER message_deleted AFTER DELETE ON messages BEGIN
        DELETE FROM message_index
        WHERE session_id = old.session_id AND sequence = old.sequence;
    END;
    """,
    # 7: vector pages (domain.search.vector_pages). Embeddings move from one row per
    # message (message_index.vector and scale, dropped) to pages of up to 256
    # consecutive messages of a session, keyed by their first sequence. Every
    # session's vectors_through goes back to 0: the indexer embeds the messages
    # again in the background (keyword search is unaffected meanwhile).
    """
    CREATE TABLE vector_pages (
        session_id     TEXT NOT NULL,
        first_sequence INTEGER NOT NULL,
        last_sequence  INTEGER NOT NULL,
        count          INTEGER NOT NULL,
        dimensions     INTEGER NOT NULL,
        sequences      BLOB NOT NULL,
        uuids          BLOB NOT NULL,
        vectors        BLOB NOT NULL,
        scales         BLOB NOT NULL,
        norms          BLOB NOT NULL,
        PRIMARY KEY (session_id, first_sequence)
    ) WITHOUT ROWID;
    UPDATE sessions SET vectors_through = 0;
    ALTER TABLE message_index DROP COLUMN vector;
    ALTER TABLE message_index DROP COLUMN scale;
    """,
    # 8: per-session term statistics: how many message_index rows a session has and
    # the sum of their lengths, so that keyword ranking reads one row per session
    # instead of every index row in scope. Triggers keep them exact on every path
    # that adds or removes index rows (INSERT OR IGNORE counts only rows inserted;
    # the message_deleted trigger, DeleteMemory and DeleteSession remove them), also
    # for a server of the previous version writing the same file. Their cost, one
    # UPDATE of the session's row by key per index row, measured ~2 us against ~20
    # us for the row's own insert with its FTS5 entry: less than a per-step UPDATE
    # would need in re-reading which rows an INSERT OR IGNORE really inserted.
    """
    ALTER TABLE sessions ADD COLUMN term_documents INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE sessions ADD COLUMN term_length INTEGER NOT NULL DEFAULT 0;
    UPDATE sessions SET (term_documents, term_length) = (
        SELECT COUNT(*), COALESCE(SUM(length), 0) FROM message_index AS i
        WHERE i.session_id = sessions.session_id
    );
    CREATE TRIGGER message_index_counted AFTER INSERT ON message_index BEGIN
        UPDATE sessions SET term_documents = term_documents + 1,
            term_length = term_length + new.length
        WHERE session_id = new.session_id;
    END;
    CREATE TRIGGER message_index_uncounted AFTER DELETE ON message_index BEGIN
        UPDATE sessions SET term_documents = term_documents - 1,
            term_length = term_length - old.length
        WHERE session_id = old.session_id;
    END;
    """,
]


def migrate(connection: sqlite3.Connection) -> None:
    """Applies the pending migrations, each in its own transaction.

    ``BEGIN IMMEDIATE`` takes the write lock before reading the version, so two
    processes starting on the same file cannot apply a migration twice.
    """
    for version, script in enumerate(MIGRATIONS, start=1):
        connection.execute("BEGIN IMMEDIATE")
        try:
            (current,) = connection.execute("PRAGMA user_version").fetchone()
            if current < version:
                for statement in _statements(script):
                    connection.execute(statement)
                connection.execute(f"PRAGMA user_version = {version}")
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise


def _statements(script: str) -> list[str]:
    """The statements of a script, whole: a trigger's body holds semicolons too."""
    statements: list[str] = []
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                statements.append(pending)
            pending = ""
    return statements
