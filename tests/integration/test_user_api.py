"""UserService through the generated stubs, against a real server."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from google.protobuf import field_mask_pb2
from memoria.v1 import memory_service_pb2 as pb
from memoria.v1 import session_service_pb2 as spb
from memoria.v1 import user_service_pb2 as upb

from bench.harness.requests import SEED_CONVERSATION, struct
from bench.harness.stubs import Stubs
from tests.support.errors import call_error, field_violations


@pytest.fixture
def user_id() -> str:
    return f"user-{uuid.uuid4().hex}"


def mask(*paths: str) -> field_mask_pb2.FieldMask:
    return field_mask_pb2.FieldMask(paths=list(paths))


def get_user(stubs: Stubs, user_id: str) -> Any:
    return stubs.users.GetUser(upb.GetUserRequest(user_id=user_id)).user


def test_create_get_update(stubs: Stubs, user_id: str) -> None:
    created = stubs.users.CreateUser(
        upb.CreateUserRequest(
            user_id=user_id,
            email="jane@example.com",
            first_name="Jane",
            last_name="Smith",
            metadata=struct({"plan": "pro", "tags": ["a", "b"]}),
        )
    ).user
    assert (created.user_id, created.email, created.first_name, created.last_name) == (
        user_id,
        "jane@example.com",
        "Jane",
        "Smith",
    )
    assert created.metadata == struct({"plan": "pro", "tags": ["a", "b"]})
    assert created.created_at == created.updated_at and created.created_at.seconds > 0
    assert get_user(stubs, user_id) == created

    updated = stubs.users.UpdateUser(
        upb.UpdateUserRequest(
            user_id=user_id,
            email="ignored@example.com",
            last_name="Doe",
            metadata=struct({"plan": "free"}),
            update_mask=mask("last_name", "metadata"),
        )
    ).user
    assert (updated.email, updated.first_name, updated.last_name) == (
        "jane@example.com",  # not in the mask: unchanged
        "Jane",
        "Doe",
    )
    assert updated.metadata == struct({"plan": "free"})
    assert updated.created_at == created.created_at
    assert updated.updated_at.ToDatetime() >= created.updated_at.ToDatetime()
    cleared = stubs.users.UpdateUser(
        upb.UpdateUserRequest(user_id=user_id, update_mask=mask("email"))
    ).user
    assert (cleared.email, cleared.last_name) == ("", "Doe")
    assert get_user(stubs, user_id) == cleared


def test_list_users_in_pages_newest_first(stubs: Stubs) -> None:
    prefix = f"lister-{uuid.uuid4().hex}"
    ids = [f"{prefix}-{n}" for n in range(5)]
    for user_id in ids:
        stubs.users.CreateUser(upb.CreateUserRequest(user_id=user_id))
    listed: list[str] = []
    token = ""
    while True:  # other tests' users are listed too: keep ours
        page = stubs.users.ListUsers(upb.ListUsersRequest(page_size=2, page_token=token))
        assert len(page.users) <= 2
        listed += [u.user_id for u in page.users]
        token = page.next_page_token
        if not token:
            break
    assert len(listed) == len(set(listed))
    assert [u for u in listed if u.startswith(prefix)] == list(reversed(ids))


def test_list_user_sessions(stubs: Stubs, user_id: str) -> None:
    stubs.users.CreateUser(upb.CreateUserRequest(user_id=user_id))
    ids = [f"{user_id}-s{n}" for n in range(3)]
    for session_id in ids:
        stubs.sessions.CreateSession(
            spb.CreateSessionRequest(session_id=session_id, user_id=user_id)
        )
    stubs.sessions.CreateSession(spb.CreateSessionRequest(session_id=f"{user_id}-foreign"))
    first = stubs.users.ListUserSessions(upb.ListUserSessionsRequest(user_id=user_id, page_size=2))
    assert [s.session_id for s in first.sessions] == [ids[2], ids[1]]
    rest = stubs.users.ListUserSessions(
        upb.ListUserSessionsRequest(user_id=user_id, page_size=2, page_token=first.next_page_token)
    )
    assert [s.session_id for s in rest.sessions] == [ids[0]]
    assert rest.next_page_token == ""


def test_delete_user_deletes_its_sessions_only(stubs: Stubs, user_id: str) -> None:
    stubs.users.CreateUser(upb.CreateUserRequest(user_id=user_id, email="a@b.c"))
    owned = [f"{user_id}-s{n}" for n in range(3)]
    for session_id in owned:
        stubs.sessions.CreateSession(
            spb.CreateSessionRequest(session_id=session_id, user_id=user_id)
        )
        stubs.memory.AddMemory(
            pb.AddMemoryRequest(session_id=session_id, messages=SEED_CONVERSATION)
        )
    other = f"{user_id}-other"
    stubs.memory.AddMemory(pb.AddMemoryRequest(session_id=other, messages=SEED_CONVERSATION))

    response = stubs.users.DeleteUser(upb.DeleteUserRequest(user_id=user_id))

    assert response.deleted_sessions == 3
    assert call_error(lambda: get_user(stubs, user_id)).code() == grpc.StatusCode.NOT_FOUND
    for session_id in owned:
        gone = call_error(
            lambda s=session_id: stubs.memory.GetMemory(pb.GetMemoryRequest(session_id=s))  # type: ignore[misc]
        )
        assert gone.code() == grpc.StatusCode.NOT_FOUND
    kept = stubs.memory.GetMemory(pb.GetMemoryRequest(session_id=other))
    assert len(kept.messages) == len(SEED_CONVERSATION)
    # The id is free again at once, with no sessions.
    stubs.users.CreateUser(upb.CreateUserRequest(user_id=user_id))
    assert not stubs.users.ListUserSessions(upb.ListUserSessionsRequest(user_id=user_id)).sessions


def test_unknown_user_is_not_found(stubs: Stubs, user_id: str) -> None:
    calls: list[Callable[[], Any]] = [
        lambda: get_user(stubs, user_id),
        lambda: stubs.users.UpdateUser(
            upb.UpdateUserRequest(user_id=user_id, first_name="x", update_mask=mask("first_name"))
        ),
        lambda: stubs.users.UpdateUser(
            upb.UpdateUserRequest(user_id=user_id, update_mask=mask("metadata"))
        ),
        lambda: stubs.users.DeleteUser(upb.DeleteUserRequest(user_id=user_id)),
        lambda: stubs.users.ListUserSessions(upb.ListUserSessionsRequest(user_id=user_id)),
    ]
    for call in calls:
        assert call_error(call).code() == grpc.StatusCode.NOT_FOUND
    # Nothing was created by the failed calls.
    assert call_error(lambda: get_user(stubs, user_id)).code() == grpc.StatusCode.NOT_FOUND


def test_create_existing_user_is_already_exists(stubs: Stubs, user_id: str) -> None:
    stubs.users.CreateUser(upb.CreateUserRequest(user_id=user_id, email="first@example.com"))
    before = get_user(stubs, user_id)
    error = call_error(
        lambda: stubs.users.CreateUser(
            upb.CreateUserRequest(user_id=user_id, email="second@example.com")
        )
    )
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    assert get_user(stubs, user_id) == before


BAD_USER_FIELDS: dict[str, tuple[dict[str, Any], str]] = {
    "email without @": ({"email": "jane.example.com"}, "email"),
    "email with a space": ({"email": "jane smith@example.com"}, "email"),
    "email too long": ({"email": "j" * 250 + "@example.com"}, "email"),
    "first name too long": ({"first_name": "J" * 257}, "first_name"),
    "last name too long": ({"last_name": "S" * 257}, "last_name"),
    "reserved metadata key": ({"metadata": struct({"system": 1})}, "metadata.system"),
    "metadata over 64 KiB": ({"metadata": struct({"blob": "z" * 70_000})}, "metadata"),
}


@pytest.mark.parametrize(("fields", "field"), BAD_USER_FIELDS.values(), ids=BAD_USER_FIELDS.keys())
def test_bad_user_fields_are_rejected_and_change_nothing(
    stubs: Stubs, user_id: str, fields: dict[str, Any], field: str
) -> None:
    stubs.users.CreateUser(upb.CreateUserRequest(user_id=user_id, email="ok@example.com"))
    before = get_user(stubs, user_id)
    create = call_error(
        lambda: stubs.users.CreateUser(upb.CreateUserRequest(user_id=f"{user_id}-new", **fields))
    )
    update = call_error(
        lambda: stubs.users.UpdateUser(
            upb.UpdateUserRequest(user_id=user_id, update_mask=mask(*fields), **fields)
        )
    )
    for error in (create, update):
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field in field_violations(error)
    assert get_user(stubs, user_id) == before
    missing = call_error(lambda: get_user(stubs, f"{user_id}-new"))
    assert missing.code() == grpc.StatusCode.NOT_FOUND


def test_bad_requests_name_their_fields(stubs: Stubs, user_id: str) -> None:
    stubs.users.CreateUser(upb.CreateUserRequest(user_id=user_id))
    sessions_token = stubs.sessions.ListSessions(
        spb.ListSessionsRequest(page_size=1)
    ).next_page_token
    cases: list[tuple[Callable[[], Any], str]] = [
        (lambda: stubs.users.CreateUser(upb.CreateUserRequest()), "user_id"),
        (lambda: stubs.users.CreateUser(upb.CreateUserRequest(user_id="bad id")), "user_id"),
        (lambda: stubs.users.GetUser(upb.GetUserRequest(user_id="u" * 257)), "user_id"),
        (
            lambda: stubs.users.UpdateUser(upb.UpdateUserRequest(user_id=user_id)),
            "update_mask",
        ),
        (
            lambda: stubs.users.UpdateUser(
                upb.UpdateUserRequest(user_id=user_id, update_mask=mask("user_id"))
            ),
            "update_mask",
        ),
        (lambda: stubs.users.ListUsers(upb.ListUsersRequest(page_size=1001)), "page_size"),
        (lambda: stubs.users.ListUsers(upb.ListUsersRequest(page_token="garbage")), "page_token"),
        (
            lambda: stubs.users.ListUsers(upb.ListUsersRequest(page_token=sessions_token)),
            "page_token",
        ),
        (
            lambda: stubs.users.ListUserSessions(
                upb.ListUserSessionsRequest(user_id=user_id, page_size=-1)
            ),
            "page_size",
        ),
    ]
    assert sessions_token, "the server must hold more than one session by now"
    for call, field in cases:
        error = call_error(call)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field in field_violations(error)
