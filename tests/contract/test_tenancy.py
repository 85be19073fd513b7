"""Two tenants on one store see nothing of each other (through ``TenantStore``)."""

from __future__ import annotations

from server.domain.models import SessionPatch
from server.domain.ports.store import Store
from server.domain.tenancy import DEFAULT_TENANT
from server.domain.tenant_store import TenantStore
from tests.support.records import NOW, later, new_message, new_session, new_user, summary_of


async def test_the_same_ids_in_two_tenants_are_two_sessions(store: Store) -> None:
    """Same session id, two tenants: separate messages, sequences and summaries."""
    acme, globex = TenantStore(store, "acme"), TenantStore(store, "globex")
    a = await acme.append_messages("chat", [new_message("a1"), new_message("a2")], NOW)
    g = await globex.append_messages("chat", [new_message("g1")], NOW)
    assert [m.sequence for m in a.messages] == [1, 2] and g.messages[0].sequence == 1
    assert [m.content for m in await acme.recent_messages("chat", 10) or []] == ["a1", "a2"]
    assert [m.content for m in await globex.recent_messages("chat", 10) or []] == ["g1"]
    assert await acme.save_summary("chat", summary_of(a.messages[1], version=1))
    assert await globex.get_summary("chat") is None
    assert await globex.get_message("chat", a.messages[0].uuid) is None
    session = await acme.get_session("chat")
    assert session is not None and session.session_id == "chat"


async def test_a_tenant_cannot_touch_another_tenants_session(store: Store) -> None:
    acme, globex = TenantStore(store, "acme"), TenantStore(store, "globex")
    await acme.create_session(new_session("private", user_id="jane", metadata={"k": 1}))
    [stored] = (await acme.append_messages("private", [new_message("secret")], NOW)).messages
    assert await globex.get_session("private") is None
    assert await globex.recent_messages("private", 10) is None
    assert await globex.list_messages("private", after_sequence=0, limit=10) is None
    assert await globex.update_session("private", SessionPatch(metadata={}), later(1)) is None
    assert await globex.replace_message_metadata("private", stored.uuid, {"x": 1}) is None
    assert not await globex.delete_messages("private", later(1))
    assert not await globex.delete_session("private")
    reader = globex.read_messages("private", after_sequence=0, batch_size=10)
    assert await reader.read(10) is None
    await reader.close()
    session = await acme.get_session("private")
    assert session is not None and session.metadata == {"k": 1} and session.message_count == 1


async def test_listings_stay_within_their_tenant(store: Store) -> None:
    acme, globex = TenantStore(store, "acme"), TenantStore(store, "globex")
    default = TenantStore(store, DEFAULT_TENANT)
    for name, view in [("a", acme), ("g", globex), ("d", default)]:
        await view.create_user(new_user("jane"))
        for n in range(3):
            await view.create_session(new_session(f"{name}{n}", user_id="jane"))
    for name, view in [("a", acme), ("g", globex), ("d", default)]:
        listed = await view.list_sessions(tenant=view.tenant, user_id=None, after=None, limit=10)
        assert sorted(s.session_id for s in listed) == [f"{name}{n}" for n in range(3)]
        janes = await view.list_sessions(tenant=view.tenant, user_id="jane", after=None, limit=2)
        assert len(janes) == 2 and all(s.user_id == "jane" for s in janes)
        rest = await view.list_sessions(
            tenant=view.tenant,
            user_id="jane",
            after=(janes[-1].created_at, janes[-1].session_id),
            limit=10,
        )
        assert len(rest) == 1 and rest[0].session_id.startswith(name)
        users = await view.list_users(tenant=view.tenant, after=None, limit=10)
        assert [u.user_id for u in users] == ["jane"]


async def test_deleting_a_user_in_one_tenant_leaves_the_other(store: Store) -> None:
    acme, globex = TenantStore(store, "acme"), TenantStore(store, "globex")
    await acme.create_user(new_user("jane"))
    await globex.create_user(new_user("jane"))
    assert await acme.delete_user("jane")
    assert await acme.get_user("jane") is None
    assert await globex.get_user("jane") is not None
