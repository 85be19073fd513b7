"""Storage contract: users."""

from __future__ import annotations

import pytest

from server.domain.errors import AlreadyExists
from server.domain.models import UserPatch
from server.domain.ports.store import Store
from server.domain.tenancy import DEFAULT_TENANT
from tests.support.records import NOW, later, new_session, new_user


async def test_created_user_reads_back_unchanged(store: Store) -> None:
    """A created user is returned as stored, unicode and nested metadata included."""
    created = new_user(
        "jane",
        email="jane@example.com",
        first_name="Jäne 🙂",
        metadata={"plan": "pro", "tags": ["a", 1, 2.5], "nested": {"dot.key": None}},
    )
    await store.create_user(created)
    assert await store.get_user("jane") == created


async def test_missing_user_returns_none(store: Store) -> None:
    """Reading, updating or deleting a missing user reports it without raising."""
    assert await store.get_user("nobody") is None
    assert await store.update_user("nobody", UserPatch(email="x@y"), NOW) is None
    assert await store.delete_user("nobody") is False


async def test_create_existing_user_raises_already_exists(store: Store) -> None:
    """Creating a taken id raises AlreadyExists and leaves the first user intact."""
    await store.create_user(new_user("jane", email="first@example.com"))
    with pytest.raises(AlreadyExists):
        await store.create_user(new_user("jane", email="second@example.com"))
    user = await store.get_user("jane")
    assert user is not None and user.email == "first@example.com"


async def test_update_changes_only_patched_fields(store: Store) -> None:
    """A patch changes the fields it names and updated_at, nothing else."""
    await store.create_user(new_user("jane", email="j@example.com", first_name="Jane"))
    updated = await store.update_user(
        "jane", UserPatch(last_name="Doe", metadata={"b": 2}), later(1)
    )
    assert updated is not None
    names = (updated.email, updated.first_name, updated.last_name)
    assert names == ("j@example.com", "Jane", "Doe")
    assert (updated.metadata, updated.created_at, updated.updated_at) == ({"b": 2}, NOW, later(1))
    cleared = await store.update_user("jane", UserPatch(email=""), later(2))
    assert cleared is not None and (cleared.email, cleared.last_name) == ("", "Doe")
    assert await store.get_user("jane") == cleared


async def test_delete_user_frees_the_id_and_keeps_sessions(store: Store) -> None:
    """Deleting the user record leaves sessions to the domain, and frees the id."""
    await store.create_user(new_user("jane"))
    await store.create_session(new_session("s1", user_id="jane"))
    assert await store.delete_user("jane") is True
    assert await store.get_user("jane") is None
    assert await store.get_session("s1") is not None
    await store.create_user(new_user("jane", email="again@example.com"))
    again = await store.get_user("jane")
    assert again is not None and again.email == "again@example.com"


async def test_list_users_newest_first_in_pages(store: Store) -> None:
    """Listing is newest first (ties broken by id), pages continue without overlap."""
    for number in range(7):
        await store.create_user(new_user(f"u{number}", created_at=later(number // 2)))
    seen: list[str] = []
    page = await store.list_users(tenant=DEFAULT_TENANT, after=None, limit=3)
    while page:
        seen += [u.user_id for u in page]
        last = page[-1]
        page = await store.list_users(
            tenant=DEFAULT_TENANT, after=(last.created_at, last.user_id), limit=3
        )
    assert seen == ["u6", "u5", "u4", "u3", "u2", "u1", "u0"]
