"""Use cases on sessions."""

from __future__ import annotations

from server.domain.clock import Clock, utc_now
from server.domain.errors import NotFound
from server.domain.metadata import keep_reserved
from server.domain.models import KEEP, JsonObject, Keep, Page, Session, SessionPatch
from server.domain.pagination import list_cursor, newest_first_page
from server.domain.ports.store import Store
from server.domain.response_budget import session_bytes
from server.domain.tenant_store import TenantStore
from server.domain.validation import Limits, Violations, check_session_id

__all__ = ["SessionManager"]

UPDATABLE_SESSION_FIELDS = {"user_id", "metadata"}


class SessionManager:
    def __init__(self, store: Store, limits: Limits, clock: Clock = utc_now) -> None:
        self._store = store
        self._limits = limits
        self._clock = clock

    async def create(
        self, tenant: str, session_id: str, user_id: str, metadata: JsonObject
    ) -> Session:
        store = TenantStore(self._store, tenant)
        check = Violations()
        check.identifier("session_id", session_id)
        check.identifier("user_id", user_id, required=False)
        check.metadata("metadata", metadata, self._limits)
        check.raise_if_any()
        now = self._clock()
        session = Session(session_id, user_id or None, metadata, created_at=now, updated_at=now)
        return await store.create_session(session)

    async def get(self, tenant: str, session_id: str) -> Session:
        store = TenantStore(self._store, tenant)
        check_session_id(session_id)
        session = await store.get_session(session_id)
        if session is None:
            raise NotFound("session", session_id)
        return session

    async def update(
        self, tenant: str, session_id: str, fields: list[str], user_id: str, metadata: JsonObject
    ) -> Session:
        store = TenantStore(self._store, tenant)
        check = Violations()
        check.identifier("session_id", session_id)
        chosen = check.update_mask("update_mask", fields, UPDATABLE_SESSION_FIELDS)
        if "user_id" in chosen:
            check.identifier("user_id", user_id, required=False)
        if "metadata" in chosen:
            check.metadata("metadata", metadata, self._limits)
        check.raise_if_any()

        new_metadata: JsonObject | Keep = KEEP
        if "metadata" in chosen:
            current = await self.get(tenant, session_id)
            new_metadata = keep_reserved(current.metadata, metadata)
        patch = SessionPatch(
            user_id=(user_id or None) if "user_id" in chosen else KEEP, metadata=new_metadata
        )
        session = await store.update_session(session_id, patch, self._clock())
        if session is None:
            raise NotFound("session", session_id)
        return session

    async def delete(self, tenant: str, session_id: str) -> None:
        store = TenantStore(self._store, tenant)
        check_session_id(session_id)
        if not await store.delete_session(session_id):
            raise NotFound("session", session_id)

    async def list_sessions(
        self, tenant: str, user_id: str, page_size: int, page_token: str
    ) -> Page[Session]:
        store = TenantStore(self._store, tenant)
        check = Violations()
        check.identifier("user_id", user_id, required=False)
        limit = check.page_size("page_size", page_size, self._limits)
        check.raise_if_any()
        bound_to = {"tenant": tenant, "user": user_id}
        after = list_cursor(page_token, bound_to=bound_to)
        sessions = await store.list_sessions(user_id=user_id or None, after=after, limit=limit + 1)
        return newest_first_page(
            sessions,
            limit,
            lambda s: (s.created_at, s.session_id),
            bound_to,
            size_of=session_bytes,
            budget=self._limits.max_response_bytes,
        )
