"""One tenant's view of a store: the only code that turns ids into store keys.

Every id a caller gives goes in as ``scoped_key(tenant, id)`` and every record
comes back with bare ids, so a domain use case working through a
``TenantStore`` cannot reach another tenant's data: the keys it can form are
all its tenant's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from server.domain.models import (
    KEEP,
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
from server.domain.ports.store import ListCursor, MessageReader, Store
from server.domain.search.records import (
    IndexState,
    MessageTerms,
    MessageVector,
    TermsHit,
    TermStatistics,
    VectorBatch,
)
from server.domain.tenancy import scoped_key, split_key

__all__ = ["TenantStore"]


class TenantStore:
    """A ``Store`` holding only ``tenant``'s data, over the store of all tenants."""

    def __init__(self, store: Store, tenant: str) -> None:
        self._store = store
        self.tenant = tenant

    def key(self, identifier: str) -> str:
        return scoped_key(self.tenant, identifier)

    def _bare(self, key: str) -> str:
        return split_key(key)[1]

    def _session_in(self, session: Session) -> Session:
        owner = None if session.user_id is None else self.key(session.user_id)
        return replace(session, session_id=self.key(session.session_id), user_id=owner)

    def _session_out(self, session: Session | None) -> Session | None:
        if session is None:
            return None
        owner = None if session.user_id is None else self._bare(session.user_id)
        return replace(session, session_id=self._bare(session.session_id), user_id=owner)

    def _user_out(self, user: User | None) -> User | None:
        return None if user is None else replace(user, user_id=self._bare(user.user_id))

    def _cursor(self, after: ListCursor | None) -> ListCursor | None:
        return None if after is None else (after[0], self.key(after[1]))

    async def setup(self) -> None:
        await self._store.setup()

    async def close(self) -> None:
        await self._store.close()

    async def ping(self) -> None:
        await self._store.ping()

    # Sessions

    async def create_session(self, session: Session) -> Session:
        created = await self._store.create_session(self._session_in(session))
        return self._session_out(created) or session

    async def get_session(self, session_id: str) -> Session | None:
        return self._session_out(await self._store.get_session(self.key(session_id)))

    async def update_session(
        self, session_id: str, patch: SessionPatch, now: datetime
    ) -> Session | None:
        if patch.user_id is not KEEP and patch.user_id is not None:
            patch = replace(patch, user_id=self.key(patch.user_id))
        updated = await self._store.update_session(self.key(session_id), patch, now)
        return self._session_out(updated)

    async def delete_session(self, session_id: str) -> bool:
        return await self._store.delete_session(self.key(session_id))

    async def list_sessions(
        self,
        *,
        tenant: str | None = None,
        user_id: str | None,
        after: ListCursor | None,
        limit: int,
    ) -> list[Session]:
        """``tenant`` is this store's own, whatever is passed."""
        sessions = await self._store.list_sessions(
            tenant=self.tenant,
            user_id=None if user_id is None else self.key(user_id),
            after=self._cursor(after),
            limit=limit,
        )
        return [s for s in map(self._session_out, sessions) if s is not None]

    # Users

    async def create_user(self, user: User) -> User:
        created = await self._store.create_user(replace(user, user_id=self.key(user.user_id)))
        return self._user_out(created) or user

    async def get_user(self, user_id: str) -> User | None:
        return self._user_out(await self._store.get_user(self.key(user_id)))

    async def update_user(self, user_id: str, patch: UserPatch, now: datetime) -> User | None:
        return self._user_out(await self._store.update_user(self.key(user_id), patch, now))

    async def delete_user(self, user_id: str) -> bool:
        return await self._store.delete_user(self.key(user_id))

    async def list_users(
        self, *, tenant: str | None = None, after: ListCursor | None, limit: int
    ) -> list[User]:
        """``tenant`` is this store's own, whatever is passed."""
        users = await self._store.list_users(
            tenant=self.tenant, after=self._cursor(after), limit=limit
        )
        return [u for u in map(self._user_out, users) if u is not None]

    # Messages: they hold no ids of sessions or users, only their session's key.

    async def append_messages(
        self, session_id: str, messages: Sequence[NewMessage], now: datetime
    ) -> AppendResult:
        return await self._store.append_messages(self.key(session_id), messages, now)

    async def recent_messages(self, session_id: str, limit: int) -> list[Message] | None:
        return await self._store.recent_messages(self.key(session_id), limit)

    async def list_messages(
        self, session_id: str, *, after_sequence: int, limit: int
    ) -> list[Message] | None:
        return await self._store.list_messages(
            self.key(session_id), after_sequence=after_sequence, limit=limit
        )

    def read_messages(
        self, session_id: str, *, after_sequence: int, batch_size: int
    ) -> MessageReader:
        return self._store.read_messages(
            self.key(session_id), after_sequence=after_sequence, batch_size=batch_size
        )

    async def get_message(self, session_id: str, uuid: str) -> Message | None:
        return await self._store.get_message(self.key(session_id), uuid)

    async def replace_message_metadata(
        self, session_id: str, uuid: str, metadata: JsonObject
    ) -> Message | None:
        return await self._store.replace_message_metadata(self.key(session_id), uuid, metadata)

    async def delete_messages(self, session_id: str, now: datetime) -> bool:
        return await self._store.delete_messages(self.key(session_id), now)

    # Summaries

    async def get_summary(self, session_id: str) -> Summary | None:
        return await self._store.get_summary(self.key(session_id))

    async def save_summary(self, session_id: str, summary: Summary) -> bool:
        return await self._store.save_summary(self.key(session_id), summary)

    async def acquire_summary_lease(
        self, session_id: str, owner: str, now: datetime, expires_at: datetime
    ) -> bool:
        return await self._store.acquire_summary_lease(self.key(session_id), owner, now, expires_at)

    async def release_summary_lease(self, session_id: str, owner: str) -> None:
        await self._store.release_summary_lease(self.key(session_id), owner)

    async def sessions_to_summarize(
        self, *, min_unsummarized: int, after: str | None, limit: int
    ) -> list[str]:
        """Only this tenant's; for the start-up scan the summary worker runs the
        store's own over every tenant."""
        keys = await self._store.sessions_to_summarize(
            min_unsummarized=min_unsummarized,
            after=None if after is None else self.key(after),
            limit=limit,
        )
        return [identifier for tenant, identifier in map(split_key, keys) if tenant == self.tenant]

    # Search: the engine and the indexer work on store keys; these keep the port whole.

    async def index_states(self, session_ids: Sequence[str]) -> list[IndexState]:
        states = await self._store.index_states([self.key(s) for s in session_ids])
        return [replace(state, session_id=self._bare(state.session_id)) for state in states]

    async def save_message_terms(
        self, session_id: str, terms: Sequence[MessageTerms], through: int
    ) -> None:
        await self._store.save_message_terms(self.key(session_id), terms, through)

    async def save_message_vectors(
        self, session_id: str, vectors: Sequence[MessageVector], through: int
    ) -> None:
        await self._store.save_message_vectors(self.key(session_id), vectors, through)

    async def sessions_to_index(
        self, *, with_vectors: bool, after: str | None, limit: int
    ) -> list[str]:
        """Only this tenant's (see ``sessions_to_summarize``)."""
        keys = await self._store.sessions_to_index(
            with_vectors=with_vectors, after=None if after is None else self.key(after), limit=limit
        )
        return [identifier for tenant, identifier in map(split_key, keys) if tenant == self.tenant]

    async def keyword_candidates(
        self, session_ids: Sequence[str], terms: Sequence[str], limit: int
    ) -> list[TermsHit]:
        hits = await self._store.keyword_candidates(
            [self.key(s) for s in session_ids], terms, limit
        )
        return [replace(hit, session_id=self._bare(hit.session_id)) for hit in hits]

    async def messages_at(self, positions: Mapping[str, Sequence[int]]) -> dict[str, list[Message]]:
        found = await self._store.messages_at(
            {self.key(session_id): sequences for session_id, sequences in positions.items()}
        )
        return {session_id: found.get(self.key(session_id), []) for session_id in positions}

    async def term_statistics(self, session_ids: Sequence[str]) -> TermStatistics:
        return await self._store.term_statistics([self.key(s) for s in session_ids])

    async def vectors_before(
        self, session_id: str, *, before_sequence: int, limit: int
    ) -> VectorBatch:
        batch = await self._store.vectors_before(
            self.key(session_id), before_sequence=before_sequence, limit=limit
        )
        return replace(batch, session_id=self._bare(batch.session_id))
