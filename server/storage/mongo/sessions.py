"""Session operations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from server.domain.clock import to_micros
from server.domain.errors import AlreadyExists
from server.domain.models import Session, SessionPatch, patch_changes
from server.domain.ports.store import ListCursor
from server.storage.mongo.documents import (
    session_document,
    session_from_document,
    update_fields,
)
from server.storage.mongo.listing import NEWEST_FIRST, after_cursor
from server.storage.mongo.schema import Collections
from server.storage.mongo.search import delete_index
from server.storage.mongo.summaries import delete_summary_state

__all__ = [
    "create_session",
    "delete_session",
    "get_session",
    "list_sessions",
    "update_session",
]


async def create_session(collections: Collections, session: Session) -> Session:
    try:
        await collections.sessions.insert_one(session_document(session))
    except DuplicateKeyError as exc:  # on _id: the only unique key of sessions
        raise AlreadyExists("session", session.session_id) from exc
    return session


async def get_session(collections: Collections, session_id: str) -> Session | None:
    document = await collections.sessions.find_one({"_id": session_id})
    return None if document is None else session_from_document(document)


async def update_session(
    collections: Collections, session_id: str, patch: SessionPatch, now: datetime
) -> Session | None:
    fields = update_fields(patch_changes(patch), to_micros(now))
    document = await collections.sessions.find_one_and_update(
        {"_id": session_id}, {"$set": fields}, return_document=ReturnDocument.AFTER
    )
    return None if document is None else session_from_document(document)


async def delete_session(collections: Collections, session_id: str) -> bool:
    """Messages first: a failure half-way leaves an empty session that a retry
    deletes, never messages without a session, which a new session of the same
    id would collide with. The second sweep removes messages that an append of
    another process inserted meanwhile (without transactions it can only narrow
    that window). The summaries and leases go after the messages, so that the
    new session of the same id starts without them."""
    await collections.messages.delete_many({"session_id": session_id})
    deleted = await collections.sessions.delete_one({"_id": session_id})
    await collections.messages.delete_many({"session_id": session_id})
    await delete_summary_state(collections, session_id)
    await delete_index(collections, session_id)
    return deleted.deleted_count > 0


async def list_sessions(
    collections: Collections,
    tenant: str,
    user_id: str | None,
    after: ListCursor | None,
    limit: int,
) -> list[Session]:
    query: dict[str, Any] = {"tenant": tenant}
    if user_id is not None:
        query["user_id"] = user_id
    if after is not None:
        query.update(after_cursor(after))
    cursor = collections.sessions.find(query).sort(NEWEST_FIRST).limit(limit)
    return [session_from_document(document) async for document in cursor]
