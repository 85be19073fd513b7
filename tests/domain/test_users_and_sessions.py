"""SessionManager and UserManager as use cases."""

from __future__ import annotations

import pytest

from server.domain.errors import AlreadyExists, InvalidArgument, NotFound
from server.domain.sessions import SessionManager
from server.domain.users import UserFields, UserManager
from tests.domain.conftest import TENANT


def jane(**changes: object) -> UserFields:
    fields = {"email": "jane@example.com", "first_name": "Jane", "last_name": "Doe", "metadata": {}}
    return UserFields(**{**fields, **changes})  # type: ignore[arg-type]


async def test_a_session_is_created_once(sessions: SessionManager) -> None:
    created = await sessions.create(TENANT, "s1", "jane", {"topic": "books"})
    assert (created.user_id, created.metadata) == ("jane", {"topic": "books"})
    with pytest.raises(AlreadyExists):
        await sessions.create(TENANT, "s1", "", {})


async def test_update_changes_only_the_masked_fields(sessions: SessionManager) -> None:
    await sessions.create(TENANT, "s1", "jane", {"topic": "books"})
    updated = await sessions.update(TENANT, "s1", ["metadata"], "ignored", {"topic": "films"})
    assert (updated.user_id, updated.metadata) == ("jane", {"topic": "films"})
    with pytest.raises(InvalidArgument, match="update_mask"):
        await sessions.update(TENANT, "s1", [], "", {})


async def test_sessions_are_listed_newest_first_in_pages(sessions: SessionManager) -> None:
    for n in range(5):
        await sessions.create(TENANT, f"s{n}", "jane" if n % 2 else "", {})
    first = await sessions.list_sessions(TENANT, "", 3, "")
    rest = await sessions.list_sessions(TENANT, "", 3, first.next_page_token)
    assert [s.session_id for s in [*first.items, *rest.items]] == [
        f"s{n}" for n in range(4, -1, -1)
    ]
    mine = await sessions.list_sessions(TENANT, "jane", 10, "")
    assert [s.session_id for s in mine.items] == ["s3", "s1"]


async def test_a_bad_email_is_a_field_violation(users: UserManager) -> None:
    with pytest.raises(InvalidArgument) as raised:
        await users.create(TENANT, "jane", jane(email="not an address"))
    assert [v.field for v in raised.value.violations] == ["email"]


async def test_deleting_a_user_deletes_their_sessions(
    users: UserManager, sessions: SessionManager
) -> None:
    await users.create(TENANT, "jane", jane())
    for n in range(3):
        await sessions.create(TENANT, f"s{n}", "jane", {})
    await sessions.create(TENANT, "other", "", {})
    assert await users.delete(TENANT, "jane") == 3
    with pytest.raises(NotFound):
        await users.get(TENANT, "jane")
    assert [s.session_id for s in (await sessions.list_sessions(TENANT, "", 10, "")).items] == [
        "other"
    ]


async def test_a_user_update_keeps_unmasked_fields(users: UserManager) -> None:
    await users.create(TENANT, "jane", jane())
    updated = await users.update(
        TENANT, "jane", ["last_name"], jane(first_name="X", last_name="Roe")
    )
    assert (updated.first_name, updated.last_name) == ("Jane", "Roe")
