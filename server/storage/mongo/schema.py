"""Collections and indexes, created idempotently by ``setup``."""

from __future__ import annotations

from dataclasses import dataclass

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from server.domain.tenancy import DEFAULT_TENANT
from server.storage.mongo.documents import Document

__all__ = [
    "Collections",
    "adopt_untenanted_records",
    "adopt_vector_pages",
    "create_indexes",
    "newest",
]


@dataclass(frozen=True)
class Collections:
    sessions: AsyncCollection[Document]
    messages: AsyncCollection[Document]
    summaries: AsyncCollection[Document]
    summary_leases: AsyncCollection[Document]
    message_terms: AsyncCollection[Document]
    vector_pages: AsyncCollection[Document]
    users: AsyncCollection[Document]
    tenants: AsyncCollection[Document]
    api_keys: AsyncCollection[Document]

    @classmethod
    def of(cls, database: AsyncDatabase[Document]) -> Collections:
        return cls(
            sessions=database["sessions"],
            messages=database["messages"],
            summaries=database["summaries"],
            summary_leases=database["summary_leases"],
            message_terms=database["message_terms"],
            vector_pages=database["vector_pages"],
            users=database["users"],
            tenants=database["tenants"],
            api_keys=database["api_keys"],
        )


# Session and user ids are the documents' _id, so their uniqueness needs no index
# of its own.
# Listings of sessions and users stay within one tenant.
NEWEST_FIRST_INDEX = IndexModel(
    [("tenant", ASCENDING), ("created_us", DESCENDING), ("_id", DESCENDING)],
    name="tenant_newest_first",
)
SESSION_INDEXES = [
    NEWEST_FIRST_INDEX,
    IndexModel(
        [("user_id", ASCENDING), ("created_us", DESCENDING), ("_id", DESCENDING)],
        name="by_user_newest_first",
    ),
]
MESSAGE_INDEXES = [
    # One message per position: the guard of the order (see appends.append_messages).
    IndexModel([("session_id", ASCENDING), ("sequence", ASCENDING)], name="position", unique=True),
    # One message per uuid in a session: what makes appends idempotent.
    IndexModel([("session_id", ASCENDING), ("uuid", ASCENDING)], name="uuid", unique=True),
]
USER_INDEXES = [NEWEST_FIRST_INDEX]
# One summary per version of a session: the guard of the compare-and-set (see
# summaries.save_summary); it also finds a session's latest summary.
SUMMARY_INDEXES = [
    IndexModel([("session_id", ASCENDING), ("version", ASCENDING)], name="version", unique=True),
]
# A tenant's keys, oldest first (``keys list --tenant``); key ids are the _id.
API_KEY_INDEXES = [
    IndexModel(
        [("tenant", ASCENDING), ("created_us", ASCENDING), ("_id", ASCENDING)], name="by_tenant"
    ),
]
# Search (see search.py): a session's messages holding a term (multikey over the
# array), and a session's vector pages newest first.
TERMS_INDEXES = [IndexModel([("session_id", ASCENDING), ("terms", ASCENDING)], name="terms")]
VECTOR_PAGE_INDEXES = [
    IndexModel([("session_id", ASCENDING), ("first_sequence", DESCENDING)], name="newest_first")
]
# One lease per term of a session: the guard of a take-over (see leases).
LEASE_INDEXES = [
    IndexModel([("session_id", ASCENDING), ("term", ASCENDING)], name="term", unique=True),
]


async def create_indexes(collections: Collections) -> None:
    """Creating an index that exists with the same keys and options does nothing,
    so several processes may run this at once.

    One index per command: FerretDB v1 drops the connection (a panic on its
    side) when one createIndexes command names several indexes that exist.
    """
    for collection, indexes in [
        (collections.sessions, SESSION_INDEXES),
        (collections.messages, MESSAGE_INDEXES),
        (collections.summaries, SUMMARY_INDEXES),
        (collections.summary_leases, LEASE_INDEXES),
        (collections.message_terms, TERMS_INDEXES),
        (collections.vector_pages, VECTOR_PAGE_INDEXES),
        (collections.users, USER_INDEXES),
        (collections.api_keys, API_KEY_INDEXES),
    ]:
        for index in indexes:
            await collection.create_indexes([index])


async def adopt_untenanted_records(collections: Collections) -> None:
    """Sessions and users stored before tenants existed belong to the default tenant.
    Idempotent, and cheap once done (nothing matches)."""
    for collection in (collections.sessions, collections.users):
        await collection.update_many(
            {"tenant": {"$exists": False}}, {"$set": {"tenant": DEFAULT_TENANT}}
        )


async def adopt_vector_pages(collections: Collections) -> None:
    """Embeddings stored one document per message (the ``message_vectors``
    collection, before vector pages) are dropped, and every session's
    ``vectors_through`` goes back to 0, so that indexing embeds them again into
    pages in the background. The marks go first: a failure half-way leaves the old
    collection, so the next start does it again. Cheap once done (no such
    collection). Servers of the old version must be stopped first: one still
    running would write the old collection again."""
    database = collections.sessions.database
    if "message_vectors" not in await database.list_collection_names():
        return
    await collections.sessions.update_many(
        {"vectors_through": {"$gt": 0}}, {"$set": {"vectors_through": 0}}
    )
    await database.drop_collection("message_vectors")


async def newest(
    collection: AsyncCollection[Document], session_id: str, key: str
) -> Document | None:
    """The session's document with the highest ``key`` (``version`` of summaries,
    ``term`` of leases), found through the unique (session_id, key) index."""
    return await collection.find_one({"session_id": session_id}, sort=[(key, DESCENDING)])
