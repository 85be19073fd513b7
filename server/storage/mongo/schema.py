"""Collections and indexes, created idempotently by ``setup``."""

from __future__ import annotations

from dataclasses import dataclass

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from server.storage.mongo.documents import Document

__all__ = ["Collections", "create_indexes"]


@dataclass(frozen=True)
class Collections:
    sessions: AsyncCollection[Document]
    messages: AsyncCollection[Document]

    @classmethod
    def of(cls, database: AsyncDatabase[Document]) -> Collections:
        return cls(sessions=database["sessions"], messages=database["messages"])


# The session id is the sessions' _id, so its uniqueness needs no index of its own.
SESSION_INDEXES = [
    IndexModel(
        [("created_us", DESCENDING), ("_id", DESCENDING)],
        name="newest_first",
    ),
    IndexModel(
        [("user_id", ASCENDING), ("created_us", DESCENDING), ("_id", DESCENDING)],
        name="by_user_newest_first",
    ),
]
MESSAGE_INDEXES = [
    # One message per position: the guard of the order (see messages.append_messages).
    IndexModel([("session_id", ASCENDING), ("sequence", ASCENDING)], name="position", unique=True),
    # One message per uuid in a session: what makes appends idempotent.
    IndexModel([("session_id", ASCENDING), ("uuid", ASCENDING)], name="uuid", unique=True),
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
    ]:
        for index in indexes:
            await collection.create_indexes([index])
