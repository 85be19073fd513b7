"""The MongoDB implementation of the storage port, on PyMongo's asyncio client."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from datetime import datetime
from typing import Any, Concatenate, ParamSpec, TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from server.domain.api_keys import ApiKey
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
from server.domain.search.records import (
    IndexState,
    MessageTerms,
    MessageVector,
    TermsHit,
    TermStatistics,
    VectorBatch,
)
from server.storage.mongo import (
    appends,
    keys,
    leases,
    messages,
    search,
    sessions,
    summaries,
    term_statistics,
    users,
)
from server.storage.mongo.client import connect
from server.storage.mongo.cursor_reader import CursorReader
from server.storage.mongo.documents import Document
from server.storage.mongo.errors import translate_errors
from server.storage.mongo.locks import SessionLocks
from server.storage.mongo.schema import (
    Collections,
    adopt_untenanted_records,
    adopt_vector_pages,
    create_indexes,
)

__all__ = ["MongoStore"]

P = ParamSpec("P")
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
            await adopt_vector_pages(self._collections)
            await create_indexes(self._collections)
            await adopt_untenanted_records(self._collections)
            await term_statistics.back_fill(self._collections)

    async def close(self) -> None:
        await self._client.close()

    async def ping(self) -> None:
        with translate_errors(detailed=True):
            await self._database.command("ping")

    async def _run(
        self,
        operation: Callable[Concatenate[Collections, P], Awaitable[T]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Runs one operation of the adapter: the one place where driver errors become
        the domain's."""
        with translate_errors():
            return await operation(self._collections, *args, **kwargs)

    async def _write(
        self,
        session_id: str,
        operation: Callable[Concatenate[Collections, P], Awaitable[T]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """A write to one session: holds the session's lock and runs to its end even
        when the caller is cancelled."""

        async def locked() -> T:
            async with self._locks.hold(session_id):
                return await self._run(operation, *args, **kwargs)

        return await _run_to_completion(locked())

    async def create_session(self, session: Session) -> Session:
        return await self._run(sessions.create_session, session)

    async def get_session(self, session_id: str) -> Session | None:
        return await self._run(sessions.get_session, session_id)

    async def update_session(
        self, session_id: str, patch: SessionPatch, now: datetime
    ) -> Session | None:
        return await self._write(session_id, sessions.update_session, session_id, patch, now)

    async def delete_session(self, session_id: str) -> bool:
        return await self._write(session_id, sessions.delete_session, session_id)

    async def list_sessions(
        self, *, tenant: str, user_id: str | None, after: ListCursor | None, limit: int
    ) -> list[Session]:
        return await self._run(sessions.list_sessions, tenant, user_id, after, limit)

    async def create_user(self, user: User) -> User:
        return await self._run(users.create_user, user)

    async def get_user(self, user_id: str) -> User | None:
        return await self._run(users.get_user, user_id)

    async def update_user(self, user_id: str, patch: UserPatch, now: datetime) -> User | None:
        return await self._run(users.update_user, user_id, patch, now)

    async def delete_user(self, user_id: str) -> bool:
        return await self._run(users.delete_user, user_id)

    async def list_users(self, *, tenant: str, after: ListCursor | None, limit: int) -> list[User]:
        return await self._run(users.list_users, tenant, after, limit)

    async def append_messages(
        self, session_id: str, messages_: Sequence[NewMessage], now: datetime
    ) -> AppendResult:
        return await self._write(session_id, appends.append_messages, session_id, messages_, now)

    async def recent_messages(self, session_id: str, limit: int) -> list[Message] | None:
        return await self._run(messages.recent_messages, session_id, limit)

    async def list_messages(
        self, session_id: str, *, after_sequence: int, limit: int
    ) -> list[Message] | None:
        return await self._run(messages.list_messages, session_id, after_sequence, limit)

    def read_messages(
        self, session_id: str, *, after_sequence: int, batch_size: int
    ) -> MessageReader:
        return CursorReader(self._collections, session_id, after_sequence, batch_size)

    async def get_message(self, session_id: str, uuid: str) -> Message | None:
        return await self._run(messages.get_message, session_id, uuid)

    async def replace_message_metadata(
        self, session_id: str, uuid: str, metadata: JsonObject
    ) -> Message | None:
        return await self._run(messages.replace_message_metadata, session_id, uuid, metadata)

    async def delete_messages(self, session_id: str, now: datetime) -> bool:
        return await self._write(session_id, messages.delete_messages, session_id, now)

    async def get_summary(self, session_id: str) -> Summary | None:
        return await self._run(summaries.get_summary, session_id)

    async def save_summary(self, session_id: str, summary: Summary) -> bool:
        return await self._write(session_id, summaries.save_summary, session_id, summary)

    async def acquire_summary_lease(
        self, session_id: str, owner: str, now: datetime, expires_at: datetime
    ) -> bool:
        return await _run_to_completion(
            self._run(leases.acquire_summary_lease, session_id, owner, now, expires_at)
        )

    async def release_summary_lease(self, session_id: str, owner: str) -> None:
        await self._run(leases.release_summary_lease, session_id, owner)

    async def sessions_to_summarize(
        self, *, min_unsummarized: int, after: str | None, limit: int
    ) -> list[str]:
        return await self._run(summaries.sessions_to_summarize, min_unsummarized, after, limit)

    async def index_states(self, session_ids: Sequence[str]) -> list[IndexState]:
        return await self._run(search.index_states, session_ids)

    async def save_message_terms(
        self, session_id: str, terms: Sequence[MessageTerms], through: int
    ) -> None:
        await self._run(search.save_message_terms, session_id, terms, through)

    async def save_message_vectors(
        self, session_id: str, vectors: Sequence[MessageVector], through: int
    ) -> None:
        await self._run(search.save_message_vectors, session_id, vectors, through)

    async def sessions_to_index(
        self, *, with_vectors: bool, after: str | None, limit: int
    ) -> list[str]:
        return await self._run(search.sessions_to_index, with_vectors, after, limit)

    async def keyword_candidates(
        self, session_ids: Sequence[str], terms: Sequence[str], limit: int
    ) -> list[TermsHit]:
        return await self._run(search.keyword_candidates, session_ids, terms, limit)

    async def messages_at(self, positions: Mapping[str, Sequence[int]]) -> dict[str, list[Message]]:
        return await self._run(search.messages_at, positions)

    async def term_statistics(self, session_ids: Sequence[str]) -> TermStatistics:
        return await self._run(search.term_statistics, session_ids)

    async def vectors_before(
        self, session_id: str, *, before_sequence: int, limit: int
    ) -> VectorBatch:
        return await self._run(search.vectors_before, session_id, before_sequence, limit)

    async def create_key(self, key: ApiKey) -> None:
        await self._run(keys.create_key, key)

    async def get_key(self, key_id: str) -> ApiKey | None:
        return await self._run(keys.get_key, key_id)

    async def list_keys(self, *, tenant: str | None) -> list[ApiKey]:
        return await self._run(keys.list_keys, tenant)

    async def revoke_key(self, key_id: str, now: datetime) -> ApiKey | None:
        return await self._run(keys.revoke_key, key_id, now)

    async def record_key_use(self, key_id: str, now: datetime) -> None:
        await self._run(keys.record_key_use, key_id, now)


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
