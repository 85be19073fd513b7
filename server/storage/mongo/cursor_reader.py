"""``Store.read_messages`` on MongoDB: one server-side cursor per stream."""

from __future__ import annotations

from pymongo.asynchronous.cursor import AsyncCursor
from pymongo.errors import CursorNotFound

from server.domain.models import Message
from server.storage.mongo.documents import (
    Document,
)
from server.storage.mongo.errors import translate_errors
from server.storage.mongo.messages import in_existing_session
from server.storage.mongo.schema import Collections

__all__ = ["CursorReader"]


class CursorReader:
    """``Store.read_messages`` on one server-side cursor over the (session, sequence)
    index instead of one query per batch: a read takes what it asks for from the
    driver's current batch, and a getMore fetches the next ``batch_size`` messages
    when that runs out. (On FerretDB v1, which filters and sorts in its own memory,
    every query costs a scan of the collection: one per stream, not one per batch.)

    The cursor is closed when it is exhausted, and a later read queries again after
    the last sequence read: that sees the messages stored since (follow mode). A
    cursor the server dropped (idle past its cursor timeout while the client did not
    read) is reopened at the same place.
    """

    def __init__(
        self, collections: Collections, session_id: str, after_sequence: int, batch_size: int
    ) -> None:
        self._collections = collections
        self._session_id = session_id
        self._after = after_sequence
        self._batch_size = batch_size
        self._cursor: AsyncCursor[Document] | None = None

    async def read(self, limit: int) -> list[Message] | None:
        with translate_errors():
            try:
                messages = await in_existing_session(
                    self._collections, self._session_id, self._next(limit)
                )
            except CursorNotFound:
                await self.close()
                messages = await in_existing_session(
                    self._collections, self._session_id, self._next(limit)
                )
            if messages is None or len(messages) < limit:
                await self.close()
        if messages:
            self._after = messages[-1].sequence
        return messages

    async def _next(self, limit: int) -> list[Document]:
        if self._cursor is None:
            query = {"session_id": self._session_id, "sequence": {"$gt": self._after}}
            cursor = self._collections.messages.find(query).sort("sequence", 1)
            # What the driver holds: at most one batch (and at most the server's 16 MiB).
            self._cursor = cursor.batch_size(self._batch_size)
        return await self._cursor.to_list(limit)

    async def close(self) -> None:
        if self._cursor is not None:
            cursor, self._cursor = self._cursor, None
            with translate_errors():
                await cursor.close()
