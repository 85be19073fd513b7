"""Use cases of two tenants on one store: everything of the other is NOT_FOUND or
absent, and a page token or resume point of one is refused in the other."""

from __future__ import annotations

import pytest

from server.domain.errors import InvalidArgument, NotFound
from server.domain.inputs import ImportBatch, MessageInput
from server.domain.memory import MemoryManager
from server.domain.sessions import SessionManager
from server.domain.streams import StreamRequest
from server.domain.users import UserFields, UserManager
from tests.domain.test_bulk_import import stream

A, B = "acme", "globex"


def said(content: str) -> MessageInput:
    return MessageInput(role_type="user", content=content)


@pytest.fixture
async def acme_data(memory: MemoryManager, sessions: SessionManager, users: UserManager) -> str:
    await users.create(A, "jane", UserFields("", "Jane", "", {}))
    await sessions.create(A, "chat", "jane", {"topic": "secret"})
    await sessions.create(A, "chat-2", "jane", {})
    stored = await memory.add(A, "chat", [said(f"m{n}") for n in range(5)])
    return stored[0].uuid


async def test_another_tenants_session_is_not_found(
    memory: MemoryManager, sessions: SessionManager, acme_data: str
) -> None:
    for call in (
        sessions.get(B, "chat"),
        sessions.update(B, "chat", ["metadata"], "", {}),
        sessions.delete(B, "chat"),
        memory.get(B, "chat", "message_window", 0),
        memory.get(B, "chat", "perpetual", 0),
        memory.delete(B, "chat"),
        memory.list_messages(B, "chat", 10, ""),
        memory.get_message(B, "chat", acme_data),
        memory.update_message(B, "chat", acme_data, ["metadata"], {}),
    ):
        with pytest.raises(NotFound):
            await call
    with pytest.raises(NotFound):
        async for _ in memory.stream_messages(B, StreamRequest("chat")):
            pass
    assert (await sessions.list_sessions(B, "", 100, "")).items == []
    session = await sessions.get(A, "chat")
    assert session.metadata == {"topic": "secret"} and session.message_count == 5


async def test_another_tenants_user_is_not_found(users: UserManager, acme_data: str) -> None:
    for call in (
        users.get(B, "jane"),
        users.update(B, "jane", ["first_name"], UserFields("", "X", "", {})),
        users.delete(B, "jane"),
        users.list_sessions(B, "jane", 10, ""),
    ):
        with pytest.raises(NotFound):
            await call
    assert (await users.list_users(B, 100, "")).items == []
    assert (await users.get(A, "jane")).first_name == "Jane"


async def test_the_same_ids_are_independent(memory: MemoryManager, acme_data: str) -> None:
    await memory.add(B, "chat", [said("hello from globex")])
    report = await memory.import_messages(B, stream(ImportBatch("chat", [said("imported")])))
    assert (report.stored, report.last_sequence) == (1, 2)
    mine = await memory.get(B, "chat", "message_window", 0)
    assert [m.content for m in mine.messages] == ["hello from globex", "imported"]
    theirs = await memory.get(A, "chat", "message_window", 0)
    assert [m.content for m in theirs.messages] == [f"m{n}" for n in range(5)]


async def test_tokens_of_one_tenant_are_refused_in_another(
    memory: MemoryManager, sessions: SessionManager, users: UserManager, acme_data: str
) -> None:
    await memory.add(B, "chat", [said(f"g{n}") for n in range(5)])
    await sessions.create(B, "b-1", "", {})
    await sessions.create(B, "b-2", "", {})
    message_token = (await memory.list_messages(A, "chat", 2, "")).next_page_token
    session_token = (await sessions.list_sessions(A, "", 1, "")).next_page_token
    await users.create(A, "joe", UserFields("", "", "", {}))
    user_token = (await users.list_users(A, 1, "")).next_page_token
    resume = [b async for b in memory.stream_messages(A, StreamRequest("chat", batch_size=2))]
    with pytest.raises(InvalidArgument, match="page_token"):
        await memory.list_messages(B, "chat", 2, message_token)
    with pytest.raises(InvalidArgument, match="page_token"):
        await sessions.list_sessions(B, "", 1, session_token)
    with pytest.raises(InvalidArgument, match="page_token"):
        await users.list_users(B, 1, user_token)
    with pytest.raises(InvalidArgument, match="resume_token"):
        async for _ in memory.stream_messages(
            B, StreamRequest("chat", resume_token=resume[0].resume_token)
        ):
            pass
