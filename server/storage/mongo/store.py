"""The MongoDB implementation of the storage port, on PyMongo's asyncio client."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from datetime import datetime
from typing import Any, TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from server.domain.models import (
    AppendResult,
    JsonObject,
    Message,
    NewMessage,
    Session,
    SessionPatch,
    Summary,
    User,
    UserPatch,
)
from server.domain.ports.store import ListCursor, MessageReader
from server.storage.mongo import leases, messages, sessions, summaries, users
from server.storage.mongo.client import connect
from server.storage.mongo.documents import Document
from server.storage.mongo.errors import translate_errors
from server.storage.mongo.locks import SessionLocks
from server.storage.mongo.schema import Collections, create_indexes

__all__ = ["MongoStore"]

T = TypeVar("T")


class MongoStore:
    """Sessions, messages, summaries and summarization leases in four collections
    of one database.

    Every write to a session holds that session's lock (``SessionLocks``) for
    the writes of this process; see ``messages`` for how appends stay ordered
    across processes without transactions. Writes of several steps run to their
    end even when their caller is cancelled (``_run_to_completion``).
    """

    def __init__(
        self, client: AsyncMongoClient[Document], database: AsyncDatabase[Document]
    ) -> None:
        self._client = client
        self._database = database
        self._collections = Collections.of(database)
        self._locks = SessionLocks()

    @classmethod
    def from_url(cls, url: str) -> MongoStore:
        """``mongodb://host:port/database?options`` (or ``mongodb+srv://``)."""
        return cls(*connect(url))

    async def setup(self) -> None:
        with translate_errors(detailed=True):
            await create_indexes(self._collections)

    async def close(self) -> None:
        await self._client.close()

    async def ping(self) -> None:
        with translate_errors(detailed=True):
            await self._database.command("ping")

    async def create_session(self, session: Session) -> Session:
        with translate_errors():
            return await sessions.create_session(self._collections, session)

    async def get_session(self, session_id: str) -> Session | None:
        with translate_errors():
            return await sessions.get_session(self._collections, session_id)

    async def update_session(
        self, session_id: str, patch: SessionPatch, now: datetime
    ) -> Session | None:
        async with self._locks.hold(session_id):
            with translate_errors():
                return await sessions.update_session(self._collections, session_id, patch, now)

    async def delete_session(self, session_id: str) -> bool:
        return await _run_to_completion(self._delete_session(session_id))

    async def _delete_session(self, session_id: str) -> bool:
        async with self._locks.hold(session_id):
            with translate_errors():
                return await sessions.delete_session(self._collections, session_id)

    async def list_sessions(
        self, *, user_id: str | None, after: ListCursor | None, limit: int
    ) -> list[Session]:
        with translate_errors():
            return await sessions.list_sessions(self._collections, user_id, after, limit)

    async def create_user(self, user: User) -> User:
        with translate_errors():
            return await users.create_user(self._collections, user)

    async def get_user(self, user_id: str) -> User | None:
        with translate_errors():
            return await users.get_user(self._collections, user_id)

    async def update_user(self, user_id: str, patch: UserPatch, now: datetime) -> User | None:
        with translate_errors():
            return await users.update_user(self._collections, user_id, patch, now)

    async def delete_user(self, user_id: str) -> bool:
        with translate_errors():
            return await users.delete_user(self._collections, user_id)

    async def list_users(self, *, after: ListCursor | None, limit: int) -> list[User]:
        with translate_errors():
            return await users.list_users(self._collections, after, limit)

    async def append_messages(
        self, session_id: str, messages_: Sequence[NewMessage], now: datetime
    ) -> AppendResult:
        return await _run_to_completion(self._append_messages(session_id, messages_, now))

    async def _append_messages(
        self, session_id: str, messages_: Sequence[NewMessage], now: datetime
    ) -> AppendResult:
        async with self._locks.hold(session_id):
            with translate_errors():
                return await messages.append_messages(self._collections, session_id, messages_, now)

    async def recent_messages(self, session_id: str, limit: int) -> list[Message] | None:
        with translate_errors():
            return await messages.recent_messages(self._collections, session_id, limit)

    async def list_messages(
        self, session_id: str, *, after_sequence: int, limit: int
    ) -> list[Message] | None:
        with translate_errors():
            return await messages.list_messages(
                self._collections, session_id, after_sequence, limit
            )

    def read_messages(
        self, session_id: str, *, after_sequence: int, batch_size: int
    ) -> MessageReader:
        return messages.CursorReader(self._collections, session_id, after_sequence, batch_size)

    async def get_message(self, session_id: str, uuid: str) -> Message | None:
        with translate_errors():
            return await messages.get_message(self._collections, session_id, uuid)

    async def replace_message_metadata(
        self, session_id: str, uuid: str, metadata: JsonObject
    ) -> Message | None:
        with translate_errors():
            return await messages.replace_message_metadata(
                self._collections, session_id, uuid, metadata
            )

    async def delete_messages(self, session_id: str, now: datetime) -> bool:
        return await _run_to_completion(self._delete_messages(session_id, now))

    async def _delete_messages(self, session_id: str, now: datetime) -> bool:
        async with self._locks.hold(session_id):
            with translate_errors():
                return await messages.delete_messages(self._collections, session_id, now)

    async def get_summary(self, session_id: str) -> Summary | None:
        with translate_errors():
            return await summaries.get_summary(self._collections, session_id)

    async def save_summary(self, session_id: str, summary: Summary) -> bool:
        return await _run_to_completion(self._save_summary(session_id, summary))

    async def _save_summary(self, session_id: str, summary: Summary) -> bool:
        async with self._locks.hold(session_id):
            with translate_errors():
                return await summaries.save_summary(self._collections, session_id, summary)

    async def acquire_summary_lease(
        self, session_id: str, owner: str, now: datetime, expires_at: datetime
    ) -> bool:
        return await _run_to_completion(
            self._acquire_summary_lease(session_id, owner, now, expires_at)
        )

    async def _acquire_summary_lease(
        self, session_id: str, owner: str, now: datetime, expires_at: datetime
    ) -> bool:
        with translate_errors():
            return await leases.acquire_summary_lease(
                self._collections, session_id, owner, now, expires_at
            )

    async def release_summary_lease(self, session_id: str, owner: str) -> None:
        with translate_errors():
            await leases.release_summary_lease(self._collections, session_id, owner)

    async def sessions_to_summarize(
        self, *, min_unsummarized: int, after: str | None, limit: int
    ) -> list[str]:
        with translate_errors():
            return await summaries.sessions_to_summarize(
                self._collections, min_unsummarized, after, limit
            )


async def _run_to_completion(write: Coroutine[Any, Any, T]) -> T:
    """Runs a write of several steps to its end even when the caller is cancelled
    (a client's deadline, a cancelled call). Stopped half-way, it would leave what
    a crash leaves: part of a batch stored, counters behind. The SQLite adapter
    gets the same from its worker thread, which finishes a transaction it began.
    """
    task = asyncio.ensure_future(write)
    # Retrieved here, so that an error nobody awaits any more is not reported as lost.
    task.add_done_callback(lambda done: done.cancelled() or done.exception())
    return await asyncio.shield(task)
