"""Storage contract: rolling summaries, their compare-and-set, leases and the resume scan."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from server.domain.ports.store import Store
from tests.support.records import NOW, later, new_message, summary_of


async def test_no_summary_reads_as_none(store: Store) -> None:
    """A session without summary, and a missing session, have no summary."""
    await store.append_messages("s1", [new_message()], NOW)
    assert await store.get_summary("s1") is None
    assert await store.get_summary("nope") is None


async def test_first_summary_is_version_one_and_reads_back(store: Store) -> None:
    """The first summary is stored with version 1 and read back unchanged."""
    stored = (
        await store.append_messages("s1", [new_message(str(n)) for n in range(5)], NOW)
    ).messages
    first = summary_of(stored[2], version=1, content="Jane: 0 1 2")
    assert await store.save_summary("s1", first) is True
    assert await store.get_summary("s1") == first


async def test_save_requires_the_next_version(store: Store) -> None:
    """Compare-and-set: a save whose version is not the stored one plus one stores nothing."""
    stored = (
        await store.append_messages("s1", [new_message(str(n)) for n in range(6)], NOW)
    ).messages
    first = summary_of(stored[1], version=1)
    assert await store.save_summary("s1", first)
    assert not await store.save_summary("s1", summary_of(stored[3], version=1))  # a lost race
    assert not await store.save_summary("s1", summary_of(stored[3], version=3))  # skips one
    assert await store.get_summary("s1") == first
    second = summary_of(stored[3], version=2)
    assert await store.save_summary("s1", second)
    assert await store.get_summary("s1") == second


async def test_covered_point_only_moves_forward(store: Store) -> None:
    """A summary that covers no more than the stored one is refused, whatever its version."""
    stored = (
        await store.append_messages("s1", [new_message(str(n)) for n in range(6)], NOW)
    ).messages
    assert await store.save_summary("s1", summary_of(stored[3], version=1))
    assert not await store.save_summary("s1", summary_of(stored[3], version=2))
    assert not await store.save_summary("s1", summary_of(stored[1], version=2))
    summary = await store.get_summary("s1")
    assert summary is not None and (summary.version, summary.last_message_sequence) == (1, 4)


async def test_concurrent_saves_of_one_version_have_one_winner(
    store: Store, other_store: Store
) -> None:
    """Of many writers in two stores on the same data saving the same next version at
    once, exactly one succeeds."""
    stored = (
        await store.append_messages("s1", [new_message(str(n)) for n in range(20)], NOW)
    ).messages
    candidates = [summary_of(stored[n], version=1, content=f"writer {n}") for n in range(10)]
    writers = [store, other_store]
    results = await asyncio.gather(
        *(writers[n % 2].save_summary("s1", c) for n, c in enumerate(candidates))
    )
    assert results.count(True) == 1
    winner = candidates[results.index(True)]
    assert await store.get_summary("s1") == winner


async def test_summary_of_missing_messages_is_refused(store: Store) -> None:
    """A summary of a missing session, or naming a message not stored there, is refused."""
    stored = (await store.append_messages("s1", [new_message(), new_message()], NOW)).messages
    assert not await store.save_summary("nope", summary_of(stored[0], version=1))
    assert not await store.save_summary("s2", summary_of(stored[0], version=1))
    wrong_uuid = replace(summary_of(stored[0], version=1), last_message_sequence=2)
    assert not await store.save_summary("s1", wrong_uuid)
    assert await store.save_summary("s1", summary_of(stored[1], version=1))


async def test_delete_messages_deletes_the_summary(store: Store) -> None:
    """DeleteMemory removes the summary; a late save of the deleted messages is refused."""
    stored = (
        await store.append_messages("s1", [new_message(str(n)) for n in range(4)], NOW)
    ).messages
    assert await store.save_summary("s1", summary_of(stored[1], version=1))
    assert await store.delete_messages("s1", later(1))
    assert await store.get_summary("s1") is None
    assert not await store.save_summary("s1", summary_of(stored[3], version=1))
    assert not await store.save_summary("s1", summary_of(stored[3], version=2))
    fresh = (await store.append_messages("s1", [new_message("new")], later(2))).messages
    assert await store.save_summary("s1", summary_of(fresh[0], version=1))


async def test_delete_session_deletes_summary_and_lease(store: Store) -> None:
    """DeleteSession removes summary and lease; a late save for the old session is refused."""
    stored = (
        await store.append_messages("s1", [new_message(str(n)) for n in range(4)], NOW)
    ).messages
    assert await store.save_summary("s1", summary_of(stored[1], version=1))
    assert await store.acquire_summary_lease("s1", "a", NOW, later(60))
    assert await store.delete_session("s1")
    assert await store.get_summary("s1") is None
    assert await store.acquire_summary_lease("s1", "b", NOW, later(60))
    reborn = (
        await store.append_messages("s1", [new_message(str(n)) for n in range(4)], NOW)
    ).messages
    assert not await store.save_summary("s1", summary_of(stored[3], version=1))
    assert await store.save_summary("s1", summary_of(reborn[3], version=1))


async def test_lease_is_exclusive_until_it_expires(store: Store) -> None:
    """One owner at a time; the owner renews; another takes over once it has expired."""
    assert await store.acquire_summary_lease("s1", "a", NOW, later(10))
    assert not await store.acquire_summary_lease("s1", "b", later(5), later(15))
    assert await store.acquire_summary_lease("s1", "a", later(5), later(20))  # renewal
    assert not await store.acquire_summary_lease("s1", "b", later(15), later(25))
    assert await store.acquire_summary_lease("s1", "b", later(20), later(30))  # expired
    assert not await store.acquire_summary_lease("s1", "a", later(21), later(31))
    assert await store.acquire_summary_lease("s2", "a", later(21), later(31))  # per session


async def test_release_frees_only_the_owners_lease(store: Store) -> None:
    """Releasing someone else's lease changes nothing; releasing one's own frees it."""
    assert await store.acquire_summary_lease("s1", "a", NOW, later(10))
    await store.release_summary_lease("s1", "b")
    assert not await store.acquire_summary_lease("s1", "b", NOW, later(10))
    await store.release_summary_lease("s1", "a")
    assert await store.acquire_summary_lease("s1", "b", NOW, later(10))
    await store.release_summary_lease("nope", "a")


async def test_concurrent_lease_claims_have_one_winner(store: Store, other_store: Store) -> None:
    """Of many owners in two stores on the same data claiming a free lease at once,
    exactly one gets it."""
    writers = [store, other_store]
    results = await asyncio.gather(
        *(
            writers[n % 2].acquire_summary_lease("s1", f"owner-{n}", NOW, later(10))
            for n in range(10)
        )
    )
    assert results.count(True) == 1


async def test_sessions_to_summarize_lists_backlogs_in_pages(store: Store) -> None:
    """Sessions with more than n unsummarized messages are listed by id, in pages."""
    for name, count in [("a", 3), ("b", 8), ("c", 9), ("d", 20), ("e", 7)]:
        await store.append_messages(name, [new_message(str(n)) for n in range(count)], NOW)
    d = await store.list_messages("d", after_sequence=0, limit=100) or []
    assert await store.save_summary("d", summary_of(d[15], version=1))  # 4 left
    c = await store.list_messages("c", after_sequence=0, limit=100) or []
    assert await store.save_summary("c", summary_of(c[0], version=1))  # 8 left
    first = await store.sessions_to_summarize(min_unsummarized=6, after=None, limit=1)
    rest = await store.sessions_to_summarize(min_unsummarized=6, after=first[-1], limit=10)
    assert first + rest == ["b", "c", "e"]
    assert await store.sessions_to_summarize(min_unsummarized=7, after=None, limit=10) == [
        "b",
        "c",
    ]


async def test_sessions_to_summarize_after_delete_counts_new_messages(store: Store) -> None:
    """After DeleteMemory only the messages appended since count towards the backlog."""
    stored = (
        await store.append_messages("a", [new_message(str(n)) for n in range(20)], NOW)
    ).messages
    assert await store.save_summary("a", summary_of(stored[15], version=1))
    assert await store.delete_messages("a", later(1))
    await store.append_messages("a", [new_message(str(n)) for n in range(3)], later(2))
    assert await store.sessions_to_summarize(min_unsummarized=6, after=None, limit=10) == []
    await store.append_messages("a", [new_message(str(n)) for n in range(5)], later(3))
    assert await store.sessions_to_summarize(min_unsummarized=6, after=None, limit=10) == ["a"]
