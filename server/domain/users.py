"""Use cases on users, the owners of sessions."""

from __future__ import annotations

from dataclasses import dataclass

from server.domain.clock import Clock, utc_now
from server.domain.errors import NotFound
from server.domain.metadata import keep_reserved
from server.domain.models import KEEP, JsonObject, Keep, Page, Session, User, UserPatch
from server.domain.pagination import list_cursor, newest_first_page
from server.domain.ports.store import Store
from server.domain.response_budget import user_bytes
from server.domain.sessions import SessionManager
from server.domain.tenant_store import TenantStore
from server.domain.validation import Limits, Violations, check_identifier

__all__ = ["UserFields", "UserManager"]

UPDATABLE_USER_FIELDS = {"email", "first_name", "last_name", "metadata"}
# Sessions deleted per listing while a user is deleted.
_DELETE_BATCH = 100


@dataclass(frozen=True, slots=True)
class UserFields:
    """The client-given fields of a user, as a request carries them ("" when unset)."""

    email: str
    first_name: str
    last_name: str
    metadata: JsonObject

    def check(self, check: Violations, limits: Limits, chosen: set[str]) -> None:
        if "email" in chosen:
            check.email("email", self.email)
        if "first_name" in chosen:
            check.name("first_name", self.first_name)
        if "last_name" in chosen:
            check.name("last_name", self.last_name)
        if "metadata" in chosen:
            check.metadata("metadata", self.metadata, limits)


class UserManager:
    def __init__(
        self, store: Store, sessions: SessionManager, limits: Limits, clock: Clock = utc_now
    ) -> None:
        self._store = store
        self._sessions = sessions
        self._limits = limits
        self._clock = clock

    async def create(self, tenant: str, user_id: str, fields: UserFields) -> User:
        store = TenantStore(self._store, tenant)
        check = Violations()
        check.identifier("user_id", user_id)
        fields.check(check, self._limits, UPDATABLE_USER_FIELDS)
        check.raise_if_any()
        now = self._clock()
        user = User(
            user_id,
            fields.email,
            fields.first_name,
            fields.last_name,
            fields.metadata,
            created_at=now,
            updated_at=now,
        )
        return await store.create_user(user)

    async def get(self, tenant: str, user_id: str) -> User:
        store = TenantStore(self._store, tenant)
        check_identifier("user_id", user_id)
        user = await store.get_user(user_id)
        if user is None:
            raise NotFound("user", user_id)
        return user

    async def update(self, tenant: str, user_id: str, mask: list[str], fields: UserFields) -> User:
        store = TenantStore(self._store, tenant)
        check = Violations()
        check.identifier("user_id", user_id)
        chosen = check.update_mask("update_mask", mask, UPDATABLE_USER_FIELDS)
        fields.check(check, self._limits, chosen)
        check.raise_if_any()

        new_metadata: JsonObject | Keep = KEEP
        if "metadata" in chosen:
            current = await self.get(tenant, user_id)
            new_metadata = keep_reserved(current.metadata, fields.metadata)
        patch = UserPatch(
            email=fields.email if "email" in chosen else KEEP,
            first_name=fields.first_name if "first_name" in chosen else KEEP,
            last_name=fields.last_name if "last_name" in chosen else KEEP,
            metadata=new_metadata,
        )
        user = await store.update_user(user_id, patch, self._clock())
        if user is None:
            raise NotFound("user", user_id)
        return user

    async def delete(self, tenant: str, user_id: str) -> int:
        """Deletes the user's sessions, then the user; returns how many sessions went.

        Sessions first: a failure half-way leaves the user with fewer sessions, and
        a retry finishes the job; never sessions whose owner is gone unseen.
        """
        store = TenantStore(self._store, tenant)
        await self.get(tenant, user_id)
        deleted = 0
        while sessions := await store.list_sessions(
            user_id=user_id, after=None, limit=_DELETE_BATCH
        ):
            for session in sessions:
                if await store.delete_session(session.session_id):
                    deleted += 1
        if not await store.delete_user(user_id):
            raise NotFound("user", user_id)  # deleted by a concurrent call meanwhile
        return deleted

    async def list_users(self, tenant: str, page_size: int, page_token: str) -> Page[User]:
        store = TenantStore(self._store, tenant)
        check = Violations()
        limit = check.page_size("page_size", page_size, self._limits)
        check.raise_if_any()
        bound_to = {"tenant": tenant, "list": "users"}
        after = list_cursor(page_token, bound_to=bound_to)
        users = await store.list_users(after=after, limit=limit + 1)
        return newest_first_page(
            users,
            limit,
            lambda u: (u.created_at, u.user_id),
            bound_to,
            size_of=user_bytes,
            budget=self._limits.max_response_bytes,
        )

    async def list_sessions(
        self, tenant: str, user_id: str, page_size: int, page_token: str
    ) -> Page[Session]:
        """The user's sessions; NOT_FOUND for an unknown user (a session may name a
        user_id that was never created: ListSessions filters on it all the same)."""
        await self.get(tenant, user_id)
        return await self._sessions.list_sessions(tenant, user_id, page_size, page_token)
