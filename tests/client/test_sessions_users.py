"""client.session and client.user of MemoriaClient against a live server."""

from __future__ import annotations

import uuid

import pytest
from memoria_client import AlreadyExistsError, MemoriaClient, Message, NotFoundError


@pytest.fixture
def user_id() -> str:
    return f"user-{uuid.uuid4().hex}"


def test_session_create_get_update_delete(client: MemoriaClient, session_id: str) -> None:
    created = client.session.create(session_id, metadata={"channel": "web", "tier": 2})
    assert (created.session_id, created.user_id, created.metadata) == (
        session_id,
        None,
        {"channel": "web", "tier": 2},
    )
    assert created.created_at is not None and created.message_count == 0
    client.memory.add_memory(session_id, [Message(role_type="user", content="hello there")])

    fetched = client.session.get(session_id)
    assert fetched.message_count == 1 and fetched.token_count > 0

    client.user.create("owner-" + session_id)
    owned = client.session.update(session_id, user_id="owner-" + session_id)
    assert owned.user_id == "owner-" + session_id
    assert owned.metadata == {"channel": "web", "tier": 2}  # not in the mask: unchanged
    retagged = client.session.update(session_id, metadata={"channel": "app"})
    assert retagged.user_id == "owner-" + session_id
    assert retagged.metadata == {"channel": "app"}
    assert client.session.update(session_id, user_id=None).user_id is None

    client.session.delete(session_id)
    with pytest.raises(NotFoundError):
        client.session.get(session_id)


def test_session_list_follows_the_pages_and_filters_by_user(
    client: MemoriaClient, user_id: str
) -> None:
    client.user.create(user_id)
    mine = [f"{user_id}-s{n}" for n in range(5)]
    for session_id in mine:
        client.session.create(session_id, user_id=user_id)

    listed = [s.session_id for s in client.session.list(user_id=user_id, page_size=2)]
    everyone = {s.session_id for s in client.session.list(page_size=3)}

    assert listed == mine[::-1]  # newest first
    assert set(mine) <= everyone


def test_user_create_get_update_delete(client: MemoriaClient, user_id: str) -> None:
    created = client.user.create(
        user_id, email="jane@example.com", first_name="Jane", metadata={"plan": "pro"}
    )
    assert (created.email, created.first_name, created.last_name) == (
        "jane@example.com",
        "Jane",
        None,
    )
    assert client.user.get(user_id) == created

    renamed = client.user.update(user_id, last_name="Doe", email=None)
    assert (renamed.email, renamed.first_name, renamed.last_name) == (None, "Jane", "Doe")
    assert renamed.metadata == {"plan": "pro"}

    client.session.create(f"{user_id}-a", user_id=user_id)
    client.session.create(f"{user_id}-b", user_id=user_id)
    sessions = [s.session_id for s in client.user.list_sessions(user_id, page_size=1)]
    assert sessions == [f"{user_id}-b", f"{user_id}-a"]

    assert client.user.delete(user_id) == 2
    with pytest.raises(NotFoundError):
        client.user.get(user_id)
    with pytest.raises(NotFoundError):
        client.session.get(f"{user_id}-a")


def test_user_list_follows_the_pages(client: MemoriaClient, user_id: str) -> None:
    ids = [f"{user_id}-{n}" for n in range(4)]
    for each in ids:
        client.user.create(each)
    listed = [u.user_id for u in client.user.list(page_size=3)]
    assert [i for i in listed if i in ids] == ids[::-1]


def test_create_twice_is_already_exists(client: MemoriaClient, user_id: str) -> None:
    client.user.create(user_id)
    with pytest.raises(AlreadyExistsError) as raised:
        client.user.create(user_id)
    assert (raised.value.resource_type, raised.value.resource_name) == ("user", user_id)
