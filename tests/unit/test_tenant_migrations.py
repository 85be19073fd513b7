"""Stores from before tenants keep working: their data is the default tenant's."""

from __future__ import annotations

from pathlib import Path

from server.domain.tenancy import DEFAULT_TENANT
from server.domain.tenant_store import TenantStore
from server.storage.open import open_store
from tests.support.stores import old_sqlite_store

TENANTS_MIGRATION = 4  # the first version with tenants


async def test_a_sqlite_store_from_before_tenants_is_the_default_tenants(tmp_path: Path) -> None:
    path = tmp_path / "memoria.db"
    with old_sqlite_store(path, TENANTS_MIGRATION - 1) as old:
        old.execute(
            "INSERT INTO sessions (session_id, user_id, metadata, created_at, updated_at,"
            " message_count, token_count, last_sequence)"
            " VALUES ('old', 'jane', '{}', 1, 1, 1, 3, 1)"
        )
        old.execute(
            "INSERT INTO messages VALUES ('old', 1, '00000000-0000-4000-8000-000000000001',"
            " 'Jane', 'user', 'from before', '{}', 3, 1)"
        )
        old.execute("INSERT INTO users VALUES ('jane', 'jane@example.com', 'Jane', '', '{}', 1, 1)")
    async with open_store(f"sqlite:///{path}") as store:
        default = TenantStore(store, DEFAULT_TENANT)
        [session] = await default.list_sessions(user_id="jane", after=None, limit=10)
        assert (session.session_id, session.message_count) == ("old", 1)
        [message] = await default.recent_messages("old", 10) or []
        assert message.content == "from before"
        assert [u.user_id for u in await default.list_users(after=None, limit=10)] == ["jane"]
        other = TenantStore(store, "acme")
        assert await other.list_sessions(user_id=None, after=None, limit=10) == []
        assert await other.get_session("old") is None
