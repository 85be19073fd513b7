"""Every RPC of every service, called with tenant B's key on tenant A's data, on both
stores: B sees only NOT_FOUND (worded as for an id that never existed) or empty
results, A's tokens are refused, and A's data is unchanged."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import field_mask_pb2
from memoria.v1 import memory_service_pb2 as pb
from memoria.v1 import session_service_pb2 as spb
from memoria.v1 import user_service_pb2 as upb

from bench.harness.requests import message, struct
from bench.harness.server_process import ServerProcess
from bench.harness.stubs import Stubs
from tests.support.errors import call_error, field_violations
from tests.support.keys import create_key
from tests.support.search import search_indexed
from tests.support.streams import history, import_requests

pytestmark = pytest.mark.all_stores

MASK = field_mask_pb2.FieldMask(paths=["metadata"])


@pytest.fixture
def tenants(store_url: str, tmp_path: Path) -> Iterator[tuple[Stubs, Stubs]]:
    """Stubs of tenant A and of tenant B on one api-key server."""
    server = ServerProcess(store_url, tmp_path, {"MEMORIA_AUTH": "api-key"}).start()
    a = Stubs.connect(server.address, api_key=create_key(store_url, "tenant-a"))
    b = Stubs.connect(server.address, api_key=create_key(store_url, "tenant-b"))
    yield a, b
    a.close()
    b.close()
    server.stop()


@pytest.fixture
def store_url(store_kind: str, store_urls: Any) -> str:
    url: str = store_urls.fresh(store_kind)
    return url


def snapshot(stubs: Stubs) -> tuple[Any, ...]:
    """All that tenant A can observe of its data."""
    session = stubs.sessions.GetSession(spb.GetSessionRequest(session_id="chat")).session
    messages = stubs.memory.ListMessages(pb.ListMessagesRequest(session_id="chat")).messages
    user = stubs.users.GetUser(upb.GetUserRequest(user_id="jane")).user
    sessions = stubs.sessions.ListSessions(spb.ListSessionsRequest()).sessions
    return session, list(messages), user, list(sessions)


def assert_not_found_as_if_never_created(call: Callable[[], Any], kind: str, name: str) -> None:
    error = call_error(call)
    assert error.code() == grpc.StatusCode.NOT_FOUND, error.details()
    assert error.details() == f"{kind} '{name}' not found"


def test_tenant_b_sees_nothing_of_tenant_a(tenants: tuple[Stubs, Stubs]) -> None:
    a, b = tenants
    a.users.CreateUser(upb.CreateUserRequest(user_id="jane", first_name="Jane"))
    a.sessions.CreateSession(
        spb.CreateSessionRequest(session_id="chat", user_id="jane", metadata=struct({"k": "v"}))
    )
    stored = a.memory.AddMemory(
        pb.AddMemoryRequest(session_id="chat", messages=[message(f"a{n}") for n in range(5)])
    ).messages
    a.sessions.CreateSession(spb.CreateSessionRequest(session_id="chat-2", user_id="jane"))
    a_page = a.memory.ListMessages(pb.ListMessagesRequest(session_id="chat", page_size=2))
    a_sessions = a.sessions.ListSessions(spb.ListSessionsRequest(page_size=1))
    a.users.CreateUser(upb.CreateUserRequest(user_id="joe"))
    a_users = a.users.ListUsers(upb.ListUsersRequest(page_size=1))
    a_resume = next(iter(a.memory.StreamMessages(pb.StreamMessagesRequest(session_id="chat"))))
    before = snapshot(a)
    uuid = stored[0].uuid

    for call in [
        lambda: b.memory.GetMemory(pb.GetMemoryRequest(session_id="chat")),
        lambda: b.memory.GetMemory(
            pb.GetMemoryRequest(session_id="chat", memory_type=pb.MEMORY_TYPE_PERPETUAL)
        ),
        lambda: b.memory.DeleteMemory(pb.DeleteMemoryRequest(session_id="chat")),
        lambda: b.memory.ListMessages(pb.ListMessagesRequest(session_id="chat")),
        lambda: b.memory.ListMessages(
            pb.ListMessagesRequest(session_id="chat", page_token=a_page.next_page_token)
        ),
        lambda: list(b.memory.StreamMessages(pb.StreamMessagesRequest(session_id="chat"))),
        lambda: list(
            b.memory.StreamMessages(
                pb.StreamMessagesRequest(session_id="chat", follow=True), timeout=5
            )
        ),
        lambda: list(
            b.memory.StreamMessages(
                pb.StreamMessagesRequest(session_id="chat", resume_token=a_resume.resume_token)
            )
        ),
        lambda: b.sessions.GetSession(spb.GetSessionRequest(session_id="chat")),
        lambda: b.sessions.UpdateSession(
            spb.UpdateSessionRequest(session_id="chat", metadata=struct({}), update_mask=MASK)
        ),
        lambda: b.sessions.DeleteSession(spb.DeleteSessionRequest(session_id="chat")),
        lambda: b.memory.SearchMemory(pb.SearchMemoryRequest(session_id="chat", query="a0")),
    ]:
        assert_not_found_as_if_never_created(call, "session", "chat")
    for call in [
        lambda: b.memory.GetMessage(pb.GetMessageRequest(session_id="chat", uuid=uuid)),
        lambda: b.memory.UpdateMessage(
            pb.UpdateMessageRequest(
                session_id="chat", uuid=uuid, metadata=struct({}), update_mask=MASK
            )
        ),
        lambda: list(
            b.memory.StreamMessages(pb.StreamMessagesRequest(session_id="chat", after_uuid=uuid))
        ),
    ]:
        error = call_error(call)
        assert error.code() == grpc.StatusCode.NOT_FOUND
        assert error.details() in ("session 'chat' not found", f"message '{uuid}' not found")
    for call in [
        lambda: b.users.GetUser(upb.GetUserRequest(user_id="jane")),
        lambda: b.users.UpdateUser(
            upb.UpdateUserRequest(user_id="jane", metadata=struct({}), update_mask=MASK)
        ),
        lambda: b.users.DeleteUser(upb.DeleteUserRequest(user_id="jane")),
        lambda: b.users.ListUserSessions(upb.ListUserSessionsRequest(user_id="jane")),
        lambda: b.memory.SearchMemory(pb.SearchMemoryRequest(user_id="jane", query="a0")),
    ]:
        assert_not_found_as_if_never_created(call, "user", "jane")
    assert list(b.sessions.ListSessions(spb.ListSessionsRequest()).sessions) == []
    assert list(b.sessions.ListSessions(spb.ListSessionsRequest(user_id="jane")).sessions) == []
    assert list(b.users.ListUsers(upb.ListUsersRequest()).users) == []

    # A's tokens are refused in B, also once B has sessions and users of its own.
    for name, token_call, field in [
        (
            "sessions",
            lambda: b.sessions.ListSessions(
                spb.ListSessionsRequest(page_size=1, page_token=a_sessions.next_page_token)
            ),
            "page_token",
        ),
        (
            "users",
            lambda: b.users.ListUsers(
                upb.ListUsersRequest(page_size=1, page_token=a_users.next_page_token)
            ),
            "page_token",
        ),
    ]:
        error = call_error(token_call)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, name
        assert field in field_violations(error)

    # The same ids in B are B's own: writing them touches nothing of A.
    b.users.CreateUser(upb.CreateUserRequest(user_id="jane", first_name="Other Jane"))
    b.sessions.CreateSession(spb.CreateSessionRequest(session_id="chat", user_id="jane"))
    [mine] = b.memory.AddMemory(
        pb.AddMemoryRequest(session_id="chat", messages=[message("b")])
    ).messages
    assert mine.sequence == 1
    imported = b.memory.ImportMessages(import_requests("chat-2", history(3)))
    assert (imported.stored, imported.last_sequence) == (3, 3)
    for scope in (
        pb.SearchMemoryRequest(session_id="chat"),
        pb.SearchMemoryRequest(user_id="jane"),
    ):
        scope.query, scope.search_type = "a0 a1 b", pb.SEARCH_TYPE_KEYWORD
        found = search_indexed(b, scope)
        assert [r.message.content for r in found.results] == ["b"]  # B's own only
    for call, field in [
        (
            lambda: b.memory.ListMessages(
                pb.ListMessagesRequest(session_id="chat", page_token=a_page.next_page_token)
            ),
            "page_token",
        ),
        (
            lambda: list(
                b.memory.StreamMessages(
                    pb.StreamMessagesRequest(session_id="chat", resume_token=a_resume.resume_token)
                )
            ),
            "resume_token",
        ),
    ]:
        error = call_error(call)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field in field_violations(error)

    assert snapshot(a) == before
    assert [m.content for m in before[1]] == [f"a{n}" for n in range(5)]
