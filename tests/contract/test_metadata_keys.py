"""Storage contract: metadata keys that document databases treat specially."""

from __future__ import annotations

from server.domain.models import SessionPatch
from server.domain.ports.store import Store
from server.domain.tenancy import DEFAULT_TENANT
from tests.support.records import NOW, later, new_message, new_session

# Dots and leading dollars mean paths and operators to MongoDB, NUL ends a BSON
# key, and "%" is the escape character the MongoDB adapter uses for them.
AWKWARD = {
    "a.b": 1,
    "$set": {"$inc.x": [{"x.y": None}, "$"]},
    "100%": "%2E",
    "%24": True,
    "%2E.%25": "mixed",
    "nul\x00key": "v",
    "": "empty key",
    "end$": {".": {}},
}


async def test_message_metadata_keeps_awkward_keys(store: Store) -> None:
    """Keys with dots, dollars, percent signs or NUL read back as written."""
    message = new_message(metadata=AWKWARD)
    [stored] = (await store.append_messages("s1", [message], NOW)).messages
    assert stored.metadata == AWKWARD
    assert [m.metadata for m in await store.recent_messages("s1", 1) or []] == [AWKWARD]
    reread = await store.get_message("s1", message.uuid)
    assert reread is not None and reread.metadata == AWKWARD
    replaced = await store.replace_message_metadata("s1", message.uuid, {"x.y": {"$z": 1}})
    assert replaced is not None and replaced.metadata == {"x.y": {"$z": 1}}


async def test_session_metadata_keeps_awkward_keys(store: Store) -> None:
    """Session metadata keeps such keys too, on create, update and listing."""
    await store.create_session(new_session("s1", metadata=AWKWARD))
    session = await store.get_session("s1")
    assert session is not None and session.metadata == AWKWARD
    updated = await store.update_session("s1", SessionPatch(metadata={"$a.b": 1}), later(1))
    assert updated is not None and updated.metadata == {"$a.b": 1}
    [listed] = await store.list_sessions(tenant=DEFAULT_TENANT, user_id=None, after=None, limit=10)
    assert listed.metadata == {"$a.b": 1}
