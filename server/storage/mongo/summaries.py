"""Rolling summaries and the resume scan.

A session's summaries are one document per version, and the unique index on
(session_id, version) is the compare-and-set: of the writers saving version
n + 1, exactly one inserts it, the others hit a duplicate key and lose. An
update filtered on the stored version would not do: FerretDB's SQLite backend
does not run an update atomically (FerretDB issue #3040), so two writers could
both match the filter and both believe they won. A version's document is never
changed afterwards, except that once a newer one is stored its ``content`` is
dropped: the documents of older versions stay as small markers that keep their
version taken, so that a writer far behind can never insert into a freed slot.
All of them go when the session's messages are deleted.

Without transactions a save can race a delete of the session's messages: a
save checks after its insert that the last message it covers is still stored,
and takes its summary back otherwise.
"""

from __future__ import annotations

from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from server.domain.models import Summary
from server.storage.mongo.documents import summary_document, summary_from_document
from server.storage.mongo.schema import Collections, newest

__all__ = [
    "delete_summary_state",
    "get_summary",
    "save_summary",
    "sessions_to_summarize",
]

# Sessions read at a time by the resume scan.
_SCAN_BATCH = 500


async def get_summary(collections: Collections, session_id: str) -> Summary | None:
    document = await newest(collections.summaries, session_id, "version")
    return None if document is None else summary_from_document(document)


async def save_summary(collections: Collections, session_id: str, summary: Summary) -> bool:
    """See ``Store.save_summary``. The caller holds the session's lock of this process."""
    if not await _covers_a_stored_message(collections, session_id, summary):
        return False
    current = await newest(collections.summaries, session_id, "version")
    version = 0 if current is None else current["version"]
    through = 0 if current is None else current["last_message_sequence"]
    if summary.version != version + 1 or summary.last_message_sequence <= through:
        return False
    document = summary_document(session_id, summary)
    try:
        await collections.summaries.insert_one(document)
    except DuplicateKeyError:  # another writer stored this version first
        return False
    if not await _covers_a_stored_message(collections, session_id, summary):
        # The messages were deleted meanwhile, after their summaries were.
        await collections.summaries.delete_one({"_id": document["_id"]})
        return False
    await collections.summaries.update_many(
        {"session_id": session_id, "version": {"$lt": summary.version}},
        {"$unset": {"content": ""}},
    )
    await collections.sessions.update_one(
        {"_id": session_id}, {"$max": {"summarized_through": summary.last_message_sequence}}
    )
    return True


async def _covers_a_stored_message(
    collections: Collections, session_id: str, summary: Summary
) -> bool:
    found = await collections.messages.find_one(
        {"session_id": session_id, "uuid": summary.last_message_uuid},
        projection={"sequence": True},
    )
    return found is not None and found["sequence"] == summary.last_message_sequence


async def delete_summary_state(collections: Collections, session_id: str) -> None:
    """Deletes the summaries and the leases of a session; called after its messages
    are deleted, so that a racing save finds them gone (see ``save_summary``)."""
    await collections.summaries.delete_many({"session_id": session_id})
    await collections.summary_leases.delete_many({"session_id": session_id})


async def sessions_to_summarize(
    collections: Collections, min_unsummarized: int, after: str | None, limit: int
) -> list[str]:
    """See ``Store.sessions_to_summarize``.

    Reads the sessions in ``_id`` order from ``after`` on (the _id index), so the
    pages of one resume read each session once, and never reads messages or
    summaries: a session records the last sequence its summary covers in
    ``summarized_through``. That hint may lag behind the summaries (FerretDB
    applies a ``$max`` without atomicity), which lists a session too many, never
    one too few; it could only run ahead if another process deleted the session
    and a new one of the same id got messages between a save's check and its
    ``$max``. The test runs here rather than in the query: FerretDB v1
    implements no ``$expr``.
    """
    query: dict[str, object] = {"message_count": {"$gt": min_unsummarized}}
    if after is not None:
        query["_id"] = {"$gt": after}
    cursor = (
        collections.sessions.find(
            query, projection={"last_sequence": True, "summarized_through": True}
        )
        .sort("_id", ASCENDING)
        .batch_size(_SCAN_BATCH)
    )
    found: list[str] = []
    try:
        async for document in cursor:
            backlog = document.get("last_sequence", 0) - document.get("summarized_through", 0)
            if backlog > min_unsummarized:
                found.append(document["_id"])
                if len(found) == limit:
                    break
    finally:
        await cursor.close()
    return found
