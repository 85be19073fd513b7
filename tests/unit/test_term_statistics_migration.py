"""A SQLite store from before per-session term statistics: they are back-filled."""

from __future__ import annotations

from pathlib import Path

from server.domain.search.records import MessageTerms, TermStatistics
from server.storage.open import open_store
from tests.support.records import NOW, new_message
from tests.support.stores import old_sqlite_store

COUNTERS_MIGRATION = 8  # the first version with per-session term statistics


async def test_term_statistics_are_back_filled_and_kept_from_then_on(tmp_path: Path) -> None:
    """Counters are back-filled from the index rows, then follow new and deleted rows."""
    path = tmp_path / "memoria.db"
    with old_sqlite_store(path, COUNTERS_MIGRATION - 1) as old:
        for session_id, lengths in [("a", [3, 4]), ("b", [5]), ("c", [])]:
            old.execute(
                "INSERT INTO sessions (session_id, metadata, created_at, updated_at,"
                " message_count, last_sequence, terms_through) VALUES (?, '{}', 1, 1, ?, ?, ?)",
                (session_id, len(lengths), len(lengths), len(lengths)),
            )
            for sequence, length in enumerate(lengths, start=1):
                old.execute(
                    "INSERT INTO messages VALUES (?, ?, ?, 'Jane', 'user', 'x', '{}', 1, 1)",
                    (session_id, sequence, f"u{sequence}"),
                )
                old.execute(
                    "INSERT INTO message_index (session_id, sequence, uuid, scope, terms, length)"
                    " VALUES (?, ?, ?, 'sx', ?, ?)",
                    (session_id, sequence, f"u{sequence}", " ".join(["x"] * length), length),
                )
    async with open_store(f"sqlite:///{path}") as store:
        assert await store.term_statistics(["a"]) == TermStatistics(2, 7)
        assert await store.term_statistics(["a", "b", "c"]) == TermStatistics(3, 12)
        (added,) = (await store.append_messages("b", [new_message("x y")], NOW)).messages
        await store.save_message_terms("b", [MessageTerms(2, added.uuid, ("x", "y"))], 2)
        assert await store.term_statistics(["b"]) == TermStatistics(2, 7)
        await store.delete_messages("a", NOW)
        assert await store.term_statistics(["a", "b"]) == TermStatistics(2, 7)
