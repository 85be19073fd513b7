"""Search index operations; each runs on the connection's thread.

Candidates come from the FTS5 index over ``message_index.terms`` (the domain's
analyzed terms, which unicode61 keeps as they are) and ``scope``, one token per
session, so that a query reads the postings of its sessions only; the domain
scores them. Embeddings are kept in ``vector_pages`` (``domain.search.vector_pages``),
rewritten by the index lease's holder only, in the transaction that checks that
their messages are still stored.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import astuple

from server.domain.models import Message
from server.domain.search.records import (
    IndexState,
    MessageTerms,
    MessageVector,
    TermsHit,
    TermStatistics,
    VectorBatch,
)
from server.domain.search.vector_pages import (
    EncodedPage,
    batch_of,
    decode,
    encode,
    extend,
    newest_first,
)
from server.storage.sqlite.connection import transaction
from server.storage.sqlite.rows import messages_where

__all__ = [
    "delete_vector_pages",
    "index_states",
    "keyword_candidates",
    "messages_at",
    "save_message_terms",
    "save_message_vectors",
    "sessions_to_index",
    "term_statistics",
    "vectors_before",
]

# SQLite limits the number of parameters of one statement.
_IDS_PER_QUERY = 500
_STILL_STORED = "EXISTS (SELECT 1 FROM messages WHERE session_id = ? AND sequence = ? AND uuid = ?)"


def _scope(session_id: str) -> str:
    """The FTS5 token of a session: letters and digits only, as unicode61 keeps them."""
    return "s" + hashlib.sha256(session_id.encode()).hexdigest()[:24]


def _quoted(words: Sequence[str]) -> str:
    return " OR ".join('"' + word.replace('"', '""') + '"' for word in words)


def _chunks(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(ids), _IDS_PER_QUERY):
        yield ids[start : start + _IDS_PER_QUERY]


def _marks(placeholders: int) -> str:
    return ", ".join("?" * placeholders)


def index_states(connection: sqlite3.Connection, session_ids: Sequence[str]) -> list[IndexState]:
    found: dict[str, IndexState] = {}
    for chunk in _chunks(session_ids):
        rows = connection.execute(
            "SELECT session_id, message_count, last_sequence, terms_through, vectors_through"
            f" FROM sessions WHERE session_id IN ({_marks(len(chunk))})",
            tuple(chunk),
        ).fetchall()
        found.update((row[0], IndexState(*row)) for row in rows)
    return [found[key] for key in session_ids if key in found]


def save_message_terms(
    connection: sqlite3.Connection, session_id: str, terms: Sequence[MessageTerms], through: int
) -> None:
    scope = _scope(session_id)
    with transaction(connection, write=True):
        connection.executemany(
            "INSERT INTO message_index (session_id, sequence, uuid, scope, terms, length)"
            f" SELECT ?, ?, ?, ?, ?, ? WHERE {_STILL_STORED}"
            " ON CONFLICT (session_id, sequence) DO NOTHING",
            [
                (session_id, t.sequence, t.uuid, scope, " ".join(t.terms), len(t.terms), *key)
                for t in terms
                for key in [(session_id, t.sequence, t.uuid)]
            ],
        )
        _advance(connection, "terms_through", session_id, through)


def save_message_vectors(
    connection: sqlite3.Connection, session_id: str, vectors: Sequence[MessageVector], through: int
) -> None:
    with transaction(connection, write=True):
        stored = _still_stored(connection, session_id, vectors)
        if stored:
            new = batch_of(session_id, stored)
            first = stored[0].sequence
            connection.execute(
                "DELETE FROM vector_pages WHERE session_id = ? AND first_sequence >= ?",
                (session_id, first),
            )
            row = connection.execute(
                f"SELECT {_PAGE_COLUMNS} FROM vector_pages WHERE session_id = ?"
                " AND first_sequence < ? ORDER BY first_sequence DESC LIMIT 1",
                (session_id, first),
            ).fetchone()
            tail = None if row is None else decode(session_id, EncodedPage(*row))
            connection.executemany(
                f"INSERT OR REPLACE INTO vector_pages (session_id, {_PAGE_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(session_id, *astuple(encode(page))) for page in extend(tail, new)],
            )
        _advance(connection, "vectors_through", session_id, through)


_PAGE_COLUMNS = (
    "first_sequence, last_sequence, count, dimensions, sequences, uuids, vectors, scales, norms"
)


def _still_stored(
    connection: sqlite3.Connection, session_id: str, vectors: Sequence[MessageVector]
) -> list[MessageVector]:
    """Those of ``vectors`` whose message is stored at its sequence with its uuid."""
    if not vectors:
        return []
    stored = dict(
        connection.execute(
            "SELECT sequence, uuid FROM messages WHERE session_id = ? AND sequence BETWEEN ? AND ?",
            (session_id, vectors[0].sequence, vectors[-1].sequence),
        ).fetchall()
    )
    return [v for v in vectors if stored.get(v.sequence) == v.uuid]


def delete_vector_pages(connection: sqlite3.Connection, session_id: str) -> None:
    """Deletes a session's embeddings; called with its messages' deletion."""
    connection.execute("DELETE FROM vector_pages WHERE session_id = ?", (session_id,))


def _advance(connection: sqlite3.Connection, mark: str, session_id: str, through: int) -> None:
    # Only forward, and never past the session's own counter: a session deleted and
    # created again meanwhile starts over below ``through``.
    connection.execute(
        f"UPDATE sessions SET {mark} = MAX({mark}, ?) WHERE session_id = ? AND last_sequence >= ?",
        (through, session_id, through),
    )


def sessions_to_index(
    connection: sqlite3.Connection, with_vectors: bool, after: str | None, limit: int
) -> list[str]:
    rows = connection.execute(
        "SELECT session_id FROM sessions WHERE session_id > ? AND message_count > 0"
        " AND (terms_through < last_sequence OR (? AND vectors_through < last_sequence))"
        " ORDER BY session_id LIMIT ?",
        (after or "", with_vectors, limit),
    ).fetchall()
    return [session_id for (session_id,) in rows]


def keyword_candidates(
    connection: sqlite3.Connection, session_ids: Sequence[str], terms: Sequence[str], limit: int
) -> list[TermsHit]:
    hits: list[TermsHit] = []
    for chunk in _chunks(session_ids):
        query = f"scope : ({_quoted([_scope(s) for s in chunk])}) AND terms : ({_quoted(terms)})"
        # CROSS JOIN keeps the FTS5 query the outer loop: run once, not once per row.
        rows = connection.execute(
            "SELECT i.session_id, i.sequence, i.uuid, i.terms FROM message_index_fts AS f"
            " CROSS JOIN message_index AS i ON i.id = f.rowid"
            f" WHERE message_index_fts MATCH ? AND i.session_id IN ({_marks(len(chunk))})"
            " LIMIT ?",
            (query, *chunk, limit - len(hits)),
        ).fetchall()
        hits.extend(TermsHit(key, seq, uuid, _split(terms)) for key, seq, uuid, terms in rows)
        if len(hits) >= limit:
            break
    return hits


def _split(terms: str) -> tuple[str, ...]:
    return tuple(terms.split(" ")) if terms else ()


def term_statistics(connection: sqlite3.Connection, session_ids: Sequence[str]) -> TermStatistics:
    documents = total = 0
    for chunk in _chunks(session_ids):
        # Counters kept by triggers (migration 8): one row per session, not per message.
        count, length = connection.execute(
            "SELECT COALESCE(SUM(term_documents), 0), COALESCE(SUM(term_length), 0)"
            f" FROM sessions WHERE session_id IN ({_marks(len(chunk))})",
            tuple(chunk),
        ).fetchone()
        documents += count
        total += length
    return TermStatistics(documents, total)


def vectors_before(
    connection: sqlite3.Connection, session_id: str, before_sequence: int, limit: int
) -> VectorBatch:
    cursor = connection.execute(
        f"SELECT {_PAGE_COLUMNS} FROM vector_pages"
        " WHERE session_id = ? AND first_sequence < ? ORDER BY first_sequence DESC",
        (session_id, before_sequence),
    )
    try:
        pages = (decode(session_id, EncodedPage(*row)) for row in cursor)
        return newest_first(session_id, pages, before_sequence, limit)
    finally:
        cursor.close()


def messages_at(
    connection: sqlite3.Connection, positions: Mapping[str, Sequence[int]]
) -> dict[str, list[Message]]:
    return {
        session_id: messages_where(connection, session_id, "sequence", sequences)
        for session_id, sequences in positions.items()
    }
