"""A MongoDB store from before tenants keeps working: its data is the default tenant's."""

from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase

from server.domain.tenancy import DEFAULT_TENANT
from server.domain.tenant_store import TenantStore
from server.storage.mongo import MongoStore
from server.storage.mongo.documents import Document


async def test_sessions_and_users_without_a_tenant_are_the_default_tenants(
    mongo_url: str, raw: AsyncDatabase[Document]
) -> None:
    """Documents as the adapter wrote them before tenants (no ``tenant`` field)."""
    await raw.sessions.insert_one(
        {
            "_id": "old",
            "user_id": "jane",
            "metadata": {},
            "created_us": 1,
            "updated_us": 1,
            "message_count": 0,
            "token_count": 0,
            "last_sequence": 0,
        }
    )
    await raw.users.insert_one(
        {
            "_id": "jane",
            "email": "",
            "first_name": "Jane",
            "last_name": "",
            "metadata": {},
            "created_us": 1,
            "updated_us": 1,
        }
    )
    store = MongoStore.from_url(mongo_url)
    try:
        await store.setup()
        await store.setup()  # idempotent
        default = TenantStore(store, DEFAULT_TENANT)
        [session] = await default.list_sessions(user_id="jane", after=None, limit=10)
        assert session.session_id == "old"
        assert [u.user_id for u in await default.list_users(after=None, limit=10)] == ["jane"]
        assert (
            await TenantStore(store, "acme").list_sessions(user_id=None, after=None, limit=10) == []
        )
    finally:
        await store.close()
