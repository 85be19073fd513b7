"""Term statistics (BM25's N and total length), kept per session by the stores."""

from __future__ import annotations

from collections.abc import Sequence

from server.domain.models import Message
from server.domain.ports.store import Store
from server.domain.search.indexer import SearchIndexer
from server.domain.search.records import MessageTerms, TermStatistics
from tests.support.records import NOW, new_message


async def _append(store: Store, session_id: str, count: int) -> list[Message]:
    stored = await store.append_messages(
        session_id, [new_message(f"billing {n}") for n in range(count)], NOW
    )
    return stored.messages


def _terms(messages: Sequence[Message], length: int) -> list[MessageTerms]:
    return [MessageTerms(m.sequence, m.uuid, ("bill",) * length) for m in messages]


async def test_statistics_sum_the_indexed_messages_of_the_sessions_in_scope(store: Store) -> None:
    """Documents and total length add up over the sessions asked for, and only those."""
    a, b = await _append(store, "a", 3), await _append(store, "b", 2)
    await store.save_message_terms("a", _terms(a, 2), 3)
    await store.save_message_terms("b", _terms(b[:1], 5), 1)
    assert await store.term_statistics(["a"]) == TermStatistics(3, 6)
    assert await store.term_statistics(["a", "b"]) == TermStatistics(4, 11)
    assert await store.term_statistics(["b", "unknown"]) == TermStatistics(1, 5)
    assert await store.term_statistics([]) == TermStatistics(0, 0)


async def test_statistics_stay_exact_when_a_second_indexer_saves_the_same_terms(
    store: Store, other_store: Store
) -> None:
    """Terms saved again (a second indexer, or a retry) are counted once."""
    stored = await _append(store, "s1", 4)
    await store.save_message_terms("s1", _terms(stored[:2], 3), 2)
    await other_store.save_message_terms("s1", _terms(stored[:3], 3), 3)
    await store.save_message_terms("s1", _terms(stored[:3], 3), 3)
    assert await store.term_statistics(["s1"]) == TermStatistics(3, 9)
    assert await other_store.term_statistics(["s1"]) == TermStatistics(3, 9)


async def test_statistics_start_over_after_delete_memory(store: Store) -> None:
    """DeleteMemory clears a session's statistics; its new messages count from zero."""
    await _append(store, "s1", 3)
    await SearchIndexer(store, None).index_now("s1")
    assert (await store.term_statistics(["s1"])).documents == 3
    await store.delete_messages("s1", NOW)
    assert await store.term_statistics(["s1"]) == TermStatistics(0, 0)
    fresh = await _append(store, "s1", 2)
    await store.save_message_terms("s1", _terms(fresh, 4), fresh[-1].sequence)
    assert await store.term_statistics(["s1"]) == TermStatistics(2, 8)


async def test_statistics_of_a_session_deleted_and_created_again_start_over(store: Store) -> None:
    """A session deleted and created again under the same id counts only its new messages."""
    old = await _append(store, "s1", 3)
    await store.save_message_terms("s1", _terms(old, 2), 3)
    await store.delete_session("s1")
    assert await store.term_statistics(["s1"]) == TermStatistics(0, 0)
    new = await _append(store, "s1", 1)
    await store.save_message_terms("s1", _terms(new, 7), 1)
    # A late indexer of the old session: its mark is past the new session's messages.
    await store.save_message_terms("s1", _terms(old[1:], 2), 3)
    assert await store.term_statistics(["s1"]) == TermStatistics(1, 7)
