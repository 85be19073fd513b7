"""Reading and editing a session's messages (appends: ``appends``)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument

from server.domain.clock import to_micros
from server.domain.models import JsonObject, Message
from server.storage.mongo.documents import (
    Document,
    message_from_document,
    messages_from_documents,
    metadata_document,
)
from server.storage.mongo.schema import Collections
from server.storage.mongo.search import delete_index
from server.storage.mongo.summaries import delete_summary_state

__all__ = [
    "delete_messages",
    "get_message",
    "in_existing_session",
    "list_messages",
    "recent_messages",
    "replace_message_metadata",
]


async def _session_exists(collections: Collections, session_id: str) -> bool:
    found = await collections.sessions.find_one({"_id": session_id}, projection={"_id": True})
    return found is not None


async def _read(
    collections: Collections, session_id: str, query: Document, order: int, limit: int
) -> list[Message] | None:
    """Messages matching ``query`` by sequence, or None when the session does not exist."""
    if limit <= 0:  # a limit of 0 means "no limit" to MongoDB
        return [] if await _session_exists(collections, session_id) else None
    cursor = collections.messages.find(query).sort("sequence", order).limit(limit)
    return await in_existing_session(collections, session_id, cursor.to_list())


async def in_existing_session(
    collections: Collections, session_id: str, read: Coroutine[Any, Any, list[Document]]
) -> list[Message] | None:
    """The messages of the documents ``read`` returns, or None when the session does
    not exist. Both queries at once; both are awaited to the end, so that during an
    outage neither failure is left unretrieved."""
    exists, documents = await asyncio.gather(
        _session_exists(collections, session_id), read, return_exceptions=True
    )
    for outcome in (exists, documents):
        if isinstance(outcome, BaseException):
            raise outcome
    if not exists:
        return None
    assert isinstance(documents, list)
    return messages_from_documents(documents)


async def recent_messages(
    collections: Collections, session_id: str, limit: int
) -> list[Message] | None:
    newest_first = await _read(collections, session_id, {"session_id": session_id}, -1, limit)
    return None if newest_first is None else newest_first[::-1]


async def list_messages(
    collections: Collections, session_id: str, after_sequence: int, limit: int
) -> list[Message] | None:
    query = {"session_id": session_id, "sequence": {"$gt": after_sequence}}
    return await _read(collections, session_id, query, 1, limit)


async def get_message(collections: Collections, session_id: str, uuid: str) -> Message | None:
    document = await collections.messages.find_one({"session_id": session_id, "uuid": uuid})
    return None if document is None else message_from_document(document)


async def replace_message_metadata(
    collections: Collections, session_id: str, uuid: str, metadata: JsonObject
) -> Message | None:
    document = await collections.messages.find_one_and_update(
        {"session_id": session_id, "uuid": uuid},
        {"$set": {"metadata": metadata_document(metadata)}},
        return_document=ReturnDocument.AFTER,
    )
    return None if document is None else message_from_document(document)


async def delete_messages(collections: Collections, session_id: str, now: datetime) -> bool:
    await collections.messages.delete_many({"session_id": session_id})
    await delete_summary_state(collections, session_id)
    await delete_index(collections, session_id)
    updated = await collections.sessions.update_one(
        {"_id": session_id},
        {
            "$set": {
                "message_count": 0,
                "token_count": 0,
                "summarized_through": 0,
                "updated_us": to_micros(now),
            }
        },
    )
    return updated.matched_count > 0
