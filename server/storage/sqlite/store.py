"""The SQLite implementation of the storage port."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TypeVar

from server.domain.api_keys import ApiKey
from server.domain.call_load import CallLoad
from server.domain.errors import ConfigurationError
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
from server.storage.sqlite import keys, messages, search, sessions, summaries, users
from server.storage.sqlite.connection import LoopReader, SqliteWorker
from server.storage.sqlite.migrations import migrate
from server.storage.sqlite.paged_reader import PagedReader

__all__ = ["SqliteStore", "path_from_url"]

T = TypeVar("T")

# Reads of at most this many rows run on the event loop (``LoopReader``).
_QUICK_READ_ROWS = 100
# Appends of at most this many messages may be written on the event loop, when their
# call is the only one in progress (``SqliteWorker.run``).
_SMALL_APPEND = 16


def path_from_url(url: str) -> Path:
    """``sqlite:///relative/file.db`` or ``sqlite:////absolute/file.db`` to a path."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or len(url) == len(prefix):
        raise ConfigurationError(
            f"not a SQLite store URL: {url!r} (expected sqlite:///path/to/file.db)"
        )
    return Path(url.removeprefix(prefix))


class SqliteStore:
    """One writer connection and one reader connection, each on its own thread, and
    a connection for short reads on the event loop's thread.

    In WAL mode readers see the last committed state and never wait for the writer.
    """

    def __init__(self, path: Path, load: CallLoad | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        alone = (load or CallLoad()).alone
        self._writer = SqliteWorker(path, "sqlite-writer", group_commit=True, alone=alone)
        self._reader = SqliteWorker(path, "sqlite-reader")
        self._quick = LoopReader(path)  # reads of at most a few rows

    @classmethod
    def from_url(cls, url: str, load: CallLoad | None = None) -> SqliteStore:
        return cls(path_from_url(url), load)

    async def setup(self) -> None:
        await self._writer.run_alone(migrate)

    async def close(self) -> None:
        await self._writer.close()
        await self._reader.close()
        self._quick.close()

    async def ping(self) -> None:
        await self._reader.run(lambda connection: connection.execute("SELECT 1").fetchone())

    async def create_session(self, session: Session) -> Session:
        return await self._writer.run(partial(sessions.create_session, session=session))

    async def get_session(self, session_id: str) -> Session | None:
        return self._quick.run(partial(sessions.get_session, session_id=session_id))

    async def update_session(
        self, session_id: str, patch: SessionPatch, now: datetime
    ) -> Session | None:
        return await self._writer.run(
            partial(sessions.update_session, session_id=session_id, patch=patch, now=now)
        )

    async def delete_session(self, session_id: str) -> bool:
        return await self._writer.run(partial(sessions.delete_session, session_id=session_id))

    async def list_sessions(
        self, *, tenant: str, user_id: str | None, after: ListCursor | None, limit: int
    ) -> list[Session]:
        return await self._reader.run(
            partial(
                sessions.list_sessions, tenant=tenant, user_id=user_id, after=after, limit=limit
            )
        )

    async def create_user(self, user: User) -> User:
        return await self._writer.run(partial(users.create_user, user=user))

    async def get_user(self, user_id: str) -> User | None:
        return self._quick.run(partial(users.get_user, user_id=user_id))

    async def update_user(self, user_id: str, patch: UserPatch, now: datetime) -> User | None:
        return await self._writer.run(
            partial(users.update_user, user_id=user_id, patch=patch, now=now)
        )

    async def delete_user(self, user_id: str) -> bool:
        return await self._writer.run(partial(users.delete_user, user_id=user_id))

    async def list_users(self, *, tenant: str, after: ListCursor | None, limit: int) -> list[User]:
        return await self._reader.run(
            partial(users.list_users, tenant=tenant, after=after, limit=limit)
        )

    async def append_messages(
        self, session_id: str, messages_: Sequence[NewMessage], now: datetime
    ) -> AppendResult:
        return await self._writer.run(
            partial(messages.append_messages, session_id=session_id, messages=messages_, now=now),
            small=len(messages_) <= _SMALL_APPEND,
        )

    async def recent_messages(self, session_id: str, limit: int) -> list[Message] | None:
        read = partial(messages.recent_messages, session_id=session_id, limit=limit)
        return await self._read_rows(limit, read)  # a window: GetMemory's usual read

    async def list_messages(
        self, session_id: str, *, after_sequence: int, limit: int
    ) -> list[Message] | None:
        read = partial(
            messages.list_messages,
            session_id=session_id,
            after_sequence=after_sequence,
            limit=limit,
        )
        return await self._read_rows(limit, read)

    async def _read_rows(self, rows: int, read: Callable[[sqlite3.Connection], T]) -> T:
        """A read of at most ``rows`` rows: on the event loop when they are few."""
        if rows <= _QUICK_READ_ROWS:
            return self._quick.run(read)
        return await self._reader.run(read)

    def read_messages(
        self, session_id: str, *, after_sequence: int, batch_size: int
    ) -> MessageReader:
        return PagedReader(self, session_id, after_sequence)

    async def get_message(self, session_id: str, uuid: str) -> Message | None:
        return self._quick.run(partial(messages.get_message, session_id=session_id, uuid=uuid))

    async def replace_message_metadata(
        self, session_id: str, uuid: str, metadata: JsonObject
    ) -> Message | None:
        return await self._writer.run(
            partial(
                messages.replace_message_metadata,
                session_id=session_id,
                uuid=uuid,
                metadata=metadata,
            )
        )

    async def delete_messages(self, session_id: str, now: datetime) -> bool:
        return await self._writer.run(
            partial(messages.delete_messages, session_id=session_id, now=now)
        )

    async def get_summary(self, session_id: str) -> Summary | None:
        return self._quick.run(partial(summaries.get_summary, session_id=session_id))

    async def save_summary(self, session_id: str, summary: Summary) -> bool:
        return await self._writer.run(
            partial(summaries.save_summary, session_id=session_id, summary=summary)
        )

    async def acquire_summary_lease(
        self, session_id: str, owner: str, now: datetime, expires_at: datetime
    ) -> bool:
        return await self._writer.run(
            partial(
                summaries.acquire_summary_lease,
                session_id=session_id,
                owner=owner,
                now=now,
                expires_at=expires_at,
            )
        )

    async def release_summary_lease(self, session_id: str, owner: str) -> None:
        await self._writer.run(
            partial(summaries.release_summary_lease, session_id=session_id, owner=owner)
        )

    async def sessions_to_summarize(
        self, *, min_unsummarized: int, after: str | None, limit: int
    ) -> list[str]:
        return await self._reader.run(
            partial(
                summaries.sessions_to_summarize,
                min_unsummarized=min_unsummarized,
                after=after,
                limit=limit,
            )
        )

    async def index_states(self, session_ids: Sequence[str]) -> list[IndexState]:
        return await self._reader.run(partial(search.index_states, session_ids=session_ids))

    async def save_message_terms(
        self, session_id: str, terms: Sequence[MessageTerms], through: int
    ) -> None:
        await self._writer.run(
            partial(search.save_message_terms, session_id=session_id, terms=terms, through=through)
        )

    async def save_message_vectors(
        self, session_id: str, vectors: Sequence[MessageVector], through: int
    ) -> None:
        await self._writer.run(
            partial(
                search.save_message_vectors,
                session_id=session_id,
                vectors=vectors,
                through=through,
            )
        )

    async def sessions_to_index(
        self, *, with_vectors: bool, after: str | None, limit: int
    ) -> list[str]:
        return await self._reader.run(
            partial(search.sessions_to_index, with_vectors=with_vectors, after=after, limit=limit)
        )

    async def keyword_candidates(
        self, session_ids: Sequence[str], terms: Sequence[str], limit: int
    ) -> list[TermsHit]:
        return await self._reader.run(
            partial(search.keyword_candidates, session_ids=session_ids, terms=terms, limit=limit)
        )

    async def messages_at(self, positions: Mapping[str, Sequence[int]]) -> dict[str, list[Message]]:
        return await self._reader.run(partial(search.messages_at, positions=positions))

    async def term_statistics(self, session_ids: Sequence[str]) -> TermStatistics:
        return await self._reader.run(partial(search.term_statistics, session_ids=session_ids))

    async def vectors_before(
        self, session_id: str, *, before_sequence: int, limit: int
    ) -> VectorBatch:
        return await self._reader.run(
            partial(
                search.vectors_before,
                session_id=session_id,
                before_sequence=before_sequence,
                limit=limit,
            )
        )

    async def create_key(self, key: ApiKey) -> None:
        await self._writer.run(partial(keys.create_key, key=key))

    async def get_key(self, key_id: str) -> ApiKey | None:
        return self._quick.run(partial(keys.get_key, key_id=key_id))

    async def list_keys(self, *, tenant: str | None) -> list[ApiKey]:
        return await self._reader.run(partial(keys.list_keys, tenant=tenant))

    async def revoke_key(self, key_id: str, now: datetime) -> ApiKey | None:
        return await self._writer.run(partial(keys.revoke_key, key_id=key_id, now=now))

    async def record_key_use(self, key_id: str, now: datetime) -> None:
        await self._writer.run(partial(keys.record_key_use, key_id=key_id, now=now))
