"""Per-session term statistics: BM25's document count and total length, read from
the sessions in scope instead of aggregating their ``message_terms`` entries.

A session document carries ``term_documents`` and ``term_length``: the count and
summed ``terms_length`` of its entries whose sequence is at most ``terms_counted``.
They are trusted only while ``terms_counted`` equals ``terms_through``: a server of
an earlier version advances ``terms_through`` without counting (and creates
sessions without the fields), which the comparison notices; such a session is read
by the old aggregate until it is counted again. Every change is a compare-and-set
on both marks, so that no count is applied twice without transactions:

- an indexing step adds what its ``insert_many`` really inserted, in the update that
  advances ``terms_through``, if the counters were exact where the mark stood;
- otherwise (counters absent or stale) the step advances the mark alone and
  ``recount`` counts the session's entries up to the mark anew;
- deleting a session's index unsets ``terms_counted`` and recounts;
- at start-up, ``back_fill`` counts the sessions that lack the fields. The field is
  the marker: once every session has it the query finds nothing, and servers
  starting at once only repeat the same compare-and-set.

FerretDB v1 has no ``$expr``, hence the comparisons here rather than in queries.
"""

from __future__ import annotations

from collections.abc import Sequence

from pymongo import ASCENDING

from server.domain.search.records import TermStatistics
from server.storage.mongo.documents import Document
from server.storage.mongo.schema import Collections

__all__ = ["add", "back_fill", "read", "recount", "uncount"]

_MARK = "terms_through"
_COUNTED = "terms_counted"
_DOCUMENTS = "term_documents"
_LENGTH = "term_length"
_PROJECTION = {_MARK: True, _COUNTED: True, _DOCUMENTS: True, _LENGTH: True}
_BACK_FILL_BATCH = 500
_ATTEMPTS = 3
_SCAN_BATCH = 1000


def _counted(session: Document) -> bool:
    counted: int | None = session.get(_COUNTED)
    return counted is not None and counted == session.get(_MARK, 0)


def _at(mark: int) -> object:
    """A filter on ``terms_through`` equal to ``mark``: absent means 0."""
    return mark if mark else {"$in": [0, None]}


async def read(collections: Collections, session_ids: Sequence[str]) -> TermStatistics:
    documents = total = 0
    uncounted: list[str] = []
    async for session in collections.sessions.find(
        {"_id": {"$in": list(session_ids)}}, projection=_PROJECTION
    ):
        if _counted(session):
            documents += session.get(_DOCUMENTS, 0)
            total += session.get(_LENGTH, 0)
        else:
            uncounted.append(session["_id"])
    if uncounted:
        for entries in (await _entries(collections, {"session_id": {"$in": uncounted}})).values():
            documents += entries.documents
            total += entries.total_length
    return TermStatistics(documents, total)


async def add(
    collections: Collections, session_id: str, added: TermStatistics, through: int
) -> bool:
    """Advances ``terms_through`` to ``through`` and adds the entries just inserted
    to the counters, if they were exact where the mark stood. False when they were
    not (then the caller advances the mark alone and recounts); True too when there
    is nothing to advance (the session is gone, or was created again)."""
    for _ in range(_ATTEMPTS):
        session = await collections.sessions.find_one(
            {"_id": session_id}, projection={**_PROJECTION, "last_sequence": True}
        )
        # Never past the session's own counter: a session deleted and created again
        # meanwhile starts over below ``through``.
        if session is None or session.get("last_sequence", 0) < through:
            return True
        if not _counted(session):
            return False
        mark = session.get(_MARK, 0)
        updated = await collections.sessions.update_one(
            {
                "_id": session_id,
                "last_sequence": {"$gte": through},
                _MARK: _at(mark),
                _COUNTED: mark,
            },
            {
                "$set": {_MARK: max(mark, through), _COUNTED: max(mark, through)},
                "$inc": {_DOCUMENTS: added.documents, _LENGTH: added.total_length},
            },
        )
        if updated.matched_count:
            return True
        # Another step (one that lost its lease) counted its own entries meanwhile;
        # these are still to be added.
    return False


async def recount(collections: Collections, session_id: str) -> None:
    """Counts the session's entries up to its mark, unless its counters are exact."""
    session = await collections.sessions.find_one({"_id": session_id}, projection=_PROJECTION)
    if session is None or _counted(session):
        return
    mark = session.get(_MARK, 0)
    counts = await _up_to_marks(collections, {session_id: mark})
    await _set(collections, session_id, mark, counts.get(session_id, TermStatistics(0, 0)))


async def uncount(collections: Collections, session_id: str) -> None:
    """After the session's entries were deleted: counts what is left (nothing, unless
    an indexer raced the deletion)."""
    await collections.sessions.update_one({"_id": session_id}, {"$unset": {_COUNTED: ""}})
    await recount(collections, session_id)


async def back_fill(collections: Collections) -> None:
    """Counts every session without counters (stored by an earlier version), each
    once: one whose mark moves meanwhile is left to the reads' fallback and to its
    next indexing step."""
    after = ""
    while True:
        sessions = (
            await collections.sessions.find(
                {_COUNTED: {"$exists": False}, "_id": {"$gt": after}}, projection=[_MARK]
            )
            .sort("_id", ASCENDING)
            .limit(_BACK_FILL_BATCH)
            .to_list()
        )
        if not sessions:
            return
        after = sessions[-1]["_id"]
        marks = {session["_id"]: session.get(_MARK, 0) for session in sessions}
        found = await _up_to_marks(collections, marks)
        for session_id, mark in marks.items():
            await _set(collections, session_id, mark, found.get(session_id, TermStatistics(0, 0)))


async def _set(
    collections: Collections, session_id: str, mark: int, counts: TermStatistics
) -> None:
    # Only where the mark still stands: a step that advanced it meanwhile recounts.
    await collections.sessions.update_one(
        {"_id": session_id, _MARK: _at(mark)},
        {"$set": {_COUNTED: mark, _DOCUMENTS: counts.documents, _LENGTH: counts.total_length}},
    )


async def _up_to_marks(
    collections: Collections, marks: dict[str, int]
) -> dict[str, TermStatistics]:
    """Each session's entries up to its mark: an indexing step inserts its entries
    before it advances the mark, and counts them then."""
    indexed = [
        {"session_id": session_id, "sequence": {"$lte": mark}}
        for session_id, mark in marks.items()
        if mark > 0
    ]
    return await _entries(collections, {"$or": indexed}) if indexed else {}


async def _entries(collections: Collections, query: Document) -> dict[str, TermStatistics]:
    """The statistics of the entries ``query`` matches, by session. Summed here, not by
    a ``$group``: FerretDB v1 computes only the first accumulator of a ``$group`` (the
    others come back 0), and scans the collection for every query, so one query serves
    many sessions."""
    counts: dict[str, list[int]] = {}
    cursor = collections.message_terms.find(
        query, projection={"_id": False, "session_id": True, "terms_length": True}
    ).batch_size(_SCAN_BATCH)
    try:
        async for entry in cursor:
            count = counts.setdefault(entry["session_id"], [0, 0])
            count[0] += 1
            count[1] += entry["terms_length"]
    finally:
        await cursor.close()
    return {session_id: TermStatistics(*count) for session_id, count in counts.items()}
