"""Storage contract: sessions."""

from __future__ import annotations

import pytest

from server.domain.errors import AlreadyExists
from server.domain.models import SessionPatch
from server.domain.ports.store import Store
from server.domain.tenancy import DEFAULT_TENANT
from tests.support.records import NOW, later, new_message, new_session


async def test_created_session_reads_back_unchanged(store: Store) -> None:
    """A created session is returned as stored, with zero counters."""
    created = new_session("s1", user_id="u1", metadata={"plan": "pro", "n": 2})
    await store.create_session(created)
    assert await store.get_session("s1") == created


async def test_missing_session_returns_none(store: Store) -> None:
    """Missing session returns None."""
    assert await store.get_session("nope") is None


async def test_create_existing_session_raises_already_exists(store: Store) -> None:
    """Creating a taken id raises AlreadyExists and leaves the first session intact."""
    await store.create_session(new_session("s1", user_id="first"))
    with pytest.raises(AlreadyExists):
        await store.create_session(new_session("s1", user_id="second"))
    session = await store.get_session("s1")
    assert session is not None and session.user_id == "first"


async def test_update_changes_only_patched_fields(store: Store) -> None:
    """A patch changes the fields it names and updated_at, nothing else."""
    await store.create_session(new_session("s1", user_id="u1", metadata={"a": 1}))
    await store.append_messages("s1", [new_message(token_count=5)], NOW)
    updated = await store.update_session("s1", SessionPatch(metadata={"b": 2}), later(1))
    assert updated is not None
    assert (updated.user_id, updated.metadata, updated.updated_at) == ("u1", {"b": 2}, later(1))
    assert (updated.message_count, updated.token_count, updated.created_at) == (1, 5, NOW)
    cleared = await store.update_session("s1", SessionPatch(user_id=None), later(2))
    assert cleared is not None and cleared.user_id is None and cleared.metadata == {"b": 2}


async def test_update_missing_session_returns_none(store: Store) -> None:
    """Updating a missing session returns None."""
    assert await store.update_session("nope", SessionPatch(user_id="u"), NOW) is None


async def test_delete_session_removes_its_messages(store: Store) -> None:
    """Deleting a session removes it and its messages; the id starts afresh."""
    await store.append_messages("s1", [new_message("one"), new_message("two")], NOW)
    assert await store.delete_session("s1") is True
    assert await store.get_session("s1") is None
    assert await store.recent_messages("s1", 10) is None
    [again] = (await store.append_messages("s1", [new_message("three")], NOW)).messages
    assert again.sequence == 1
    assert [m.content for m in await store.recent_messages("s1", 10) or []] == ["three"]


async def test_delete_missing_session_returns_false(store: Store) -> None:
    """Deleting a missing session returns False."""
    assert await store.delete_session("nope") is False


async def test_list_sessions_newest_first_in_pages(store: Store) -> None:
    """Listing is newest first, and pages continue after the cursor without overlap."""
    for number in range(7):
        await store.create_session(new_session(f"s{number}", created_at=later(number)))
    seen: list[str] = []
    page = await store.list_sessions(tenant=DEFAULT_TENANT, user_id=None, after=None, limit=3)
    while page:
        seen += [s.session_id for s in page]
        last = page[-1]
        page = await store.list_sessions(
            tenant=DEFAULT_TENANT, user_id=None, after=(last.created_at, last.session_id), limit=3
        )
    assert seen == [f"s{n}" for n in reversed(range(7))]


async def test_list_sessions_same_instant_ordered_by_id(store: Store) -> None:
    """Sessions created at the same instant are listed by id, descending, across pages."""
    for name in ["a", "c", "b"]:
        await store.create_session(new_session(name))
    first = await store.list_sessions(tenant=DEFAULT_TENANT, user_id=None, after=None, limit=2)
    rest = await store.list_sessions(
        tenant=DEFAULT_TENANT,
        user_id=None,
        after=(first[-1].created_at, first[-1].session_id),
        limit=2,
    )
    assert [s.session_id for s in first + rest] == ["c", "b", "a"]


async def test_list_sessions_filters_by_user(store: Store) -> None:
    """The user filter returns only that user's sessions."""
    await store.create_session(new_session("mine-1", user_id="me", created_at=later(1)))
    await store.create_session(new_session("theirs", user_id="them", created_at=later(2)))
    await store.create_session(new_session("mine-2", user_id="me", created_at=later(3)))
    await store.append_messages("anonymous", [new_message()], later(4))
    mine = await store.list_sessions(tenant=DEFAULT_TENANT, user_id="me", after=None, limit=10)
    assert [s.session_id for s in mine] == ["mine-2", "mine-1"]
    everyone = await store.list_sessions(tenant=DEFAULT_TENANT, user_id=None, after=None, limit=10)
    assert len(everyone) == 4
