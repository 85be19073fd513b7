"""Summaries and leases without transactions: several processes racing on one session.

Several ``MongoStore`` instances (each with its own client and its own in-process
locks) stand for several server processes, so the races reach the database
instead of being serialized in one process.
"""

from __future__ import annotations

import asyncio

from pymongo.asynchronous.database import AsyncDatabase

from server.storage.mongo import MongoStore
from server.storage.mongo.documents import Document
from tests.support.records import NOW, later, new_message, summary_of


async def test_racing_processes_store_each_version_once(stores: list[MongoStore]) -> None:
    """Processes saving the same next version at once: one wins each round, and the
    covered point only moves forward."""
    stored = (
        await stores[0].append_messages("s1", [new_message(str(n)) for n in range(40)], NOW)
    ).messages
    winners = []
    for version in range(1, 6):
        candidates = [
            summary_of(stored[version * 6 + n], version=version, content=f"v{version} by {n}")
            for n in range(len(stores))
        ]
        results = await asyncio.gather(
            *(store.save_summary("s1", c) for store, c in zip(stores, candidates, strict=True))
        )
        assert results.count(True) == 1
        winners.append(candidates[results.index(True)])
        assert await stores[version % len(stores)].get_summary("s1") == winners[-1]
    throughs = [winner.last_message_sequence for winner in winners]
    assert throughs == sorted(set(throughs))


async def test_only_the_latest_version_keeps_its_content(
    store: MongoStore, raw: AsyncDatabase[Document]
) -> None:
    """Older versions stay as markers without content; a writer far behind cannot
    reuse their slots."""
    stored = (
        await store.append_messages("s1", [new_message(str(n)) for n in range(10)], NOW)
    ).messages
    for version in range(1, 5):
        assert await store.save_summary("s1", summary_of(stored[version], version=version))
    documents = await raw["summaries"].find({"session_id": "s1"}).sort("version", 1).to_list()
    assert [d["version"] for d in documents] == [1, 2, 3, 4]
    assert ["content" in d for d in documents] == [False, False, False, True]
    assert not await store.save_summary("s1", summary_of(stored[8], version=2))
    latest = await store.get_summary("s1")
    assert latest is not None and latest.version == 4


async def test_a_save_racing_a_delete_leaves_no_summary(stores: list[MongoStore]) -> None:
    """Whatever the interleaving of a save and a DeleteMemory in two processes, the
    deleted messages' summary does not survive."""
    for round_ in range(15):
        session_id = f"s{round_}"
        appended = await stores[0].append_messages(
            session_id, [new_message(str(n)) for n in range(8)], NOW
        )
        stored = appended.messages
        await asyncio.gather(
            stores[0].save_summary(session_id, summary_of(stored[5], version=1)),
            stores[1].delete_messages(session_id, later(1)),
        )
        assert await stores[2].get_summary(session_id) is None


async def test_racing_take_overs_of_an_expired_lease_have_one_winner(
    stores: list[MongoStore], raw: AsyncDatabase[Document]
) -> None:
    """Processes taking over an expired lease at once: one gets it; old terms are pruned."""
    for round_ in range(5):
        results = await asyncio.gather(
            *(
                store.acquire_summary_lease(
                    "s1", f"owner-{n}", later(10 * round_), later(10 * round_ + 5)
                )
                for n, store in enumerate(stores)
            )
        )
        assert results.count(True) == 1
    assert await raw["summary_leases"].count_documents({"session_id": "s1"}) <= 2


async def test_renewal_racing_take_overs_has_one_winner(stores: list[MongoStore]) -> None:
    """The owner renewing its expired lease while others take it over: exactly one of
    them holds the lease afterwards, and nobody else gets it before it expires."""
    for round_ in range(10):
        session_id = f"s{round_}"
        assert await stores[0].acquire_summary_lease(session_id, "owner-0", NOW, later(1))
        results = await asyncio.gather(
            *(
                store.acquire_summary_lease(session_id, f"owner-{n}", later(2), later(12))
                for n, store in enumerate(stores)
            )
        )
        assert results.count(True) == 1
        holder = results.index(True)
        for n, store in enumerate(stores):
            taken = await store.acquire_summary_lease(session_id, f"owner-{n}", later(3), later(13))
            assert taken is (n == holder)
