"""MongoDB sessions without term statistics (an earlier version's): read, then counted."""

from __future__ import annotations

import asyncio

from pymongo.asynchronous.database import AsyncDatabase

from server.domain.search.indexer import SearchIndexer
from server.domain.search.records import TermStatistics
from server.storage.mongo import MongoStore
from server.storage.mongo.documents import Document
from tests.support.records import NOW, new_message

_COUNTERS = {"terms_counted": "", "term_documents": "", "term_length": ""}


async def _indexed(store: MongoStore, session_id: str, contents: list[str]) -> None:
    await store.append_messages(session_id, [new_message(text) for text in contents], NOW)
    indexer = SearchIndexer(store, None)
    await indexer.index_now(session_id)
    await indexer.close()


async def test_sessions_without_counters_are_read_then_back_filled_at_start_up(
    mongo_url: str, store: MongoStore, raw: AsyncDatabase[Document]
) -> None:
    """Counters absent: statistics come from the entries, and start-up fills them in."""
    await _indexed(store, "a", ["billing invoice", "refund please now"])
    await _indexed(store, "b", ["car"])
    await store.append_messages("c", [new_message("not indexed")], NOW)
    expected = await store.term_statistics(["a", "b", "c"])
    assert expected == TermStatistics(3, 6)
    await raw.sessions.update_many({}, {"$unset": _COUNTERS})
    assert await store.term_statistics(["a", "b", "c"]) == expected
    others = [MongoStore.from_url(mongo_url) for _ in range(3)]
    try:
        await asyncio.gather(*(other.setup() for other in others))  # servers starting at once
    finally:
        await asyncio.gather(*(other.close() for other in others))
    counters = {
        session["_id"]: (session["terms_counted"], session["term_documents"])
        async for session in raw.sessions.find({})
    }
    assert counters == {"a": (2, 2), "b": (1, 1), "c": (0, 0)}
    assert await store.term_statistics(["a", "b", "c"]) == expected
    assert await store.term_statistics(["a"]) == TermStatistics(2, 5)


async def test_terms_saved_by_an_earlier_version_are_counted_all_the_same(
    store: MongoStore, raw: AsyncDatabase[Document]
) -> None:
    """An earlier version's step (entries and mark, no counters) reads right, and the
    next step counts it."""
    await _indexed(store, "s1", ["billing invoice"])
    (second,) = (await store.append_messages("s1", [new_message("refund")], NOW)).messages
    # What a server of the earlier version writes: the entry, then the mark alone.
    await raw.message_terms.insert_one(
        {
            "_id": f"s1/2/{second.uuid}",
            "session_id": "s1",
            "sequence": 2,
            "uuid": second.uuid,
            "terms": ["refund"],
            "terms_length": 1,
        }
    )
    await raw.sessions.update_one({"_id": "s1"}, {"$max": {"terms_through": 2}})
    assert await store.term_statistics(["s1"]) == TermStatistics(2, 3)
    await _indexed(store, "s1", ["more billing"])
    assert await store.term_statistics(["s1"]) == TermStatistics(3, 5)
    session = await raw.sessions.find_one({"_id": "s1"})
    assert session is not None
    assert (session["terms_counted"], session["term_documents"]) == (3, 3)
