"""AsyncMemoriaClient, and the awaitable twins of MemoriaClient, against a live server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from memoria_client import (
    AsyncMemoriaClient,
    ImportResult,
    MemoriaClient,
    Memory,
    Message,
    NotFoundError,
)

from bench.harness.server_process import ServerProcess


def numbered(count: int, start: int = 0) -> list[Message]:
    return [Message(role_type="user", content=f"message {n}") for n in range(start, start + count)]


async def test_memory_calls(aclient: AsyncMemoriaClient, session_id: str) -> None:
    memory = Memory(messages=numbered(5))
    stored = await aclient.memory.add_memory(session_id, memory)
    assert await aclient.memory.aadd_memory(session_id, memory) == stored  # the seed's name
    assert [m.sequence for m in stored] == [1, 2, 3, 4, 5]

    window = await aclient.memory.get_memory(session_id, lastn=2)
    assert [m.content for m in window.messages] == ["message 3", "message 4"]
    perpetual = await aclient.memory.aget_memory(session_id, memory_type="perpetual")
    assert len(perpetual.messages) == 5 and perpetual.summary is None

    listed = [m.sequence async for m in aclient.memory.list_messages(session_id, page_size=2)]
    assert listed == [1, 2, 3, 4, 5]
    uuid_3 = stored[2].uuid
    assert uuid_3 is not None
    assert (await aclient.memory.get_message(session_id, uuid_3)).content == "message 2"
    updated = await aclient.memory.update_message(session_id, uuid_3, metadata={"k": "v"})
    assert updated.metadata == {"k": "v"}

    async with aclient.memory.stream_messages(session_id, after=3) as stream:
        assert [m.sequence async for m in stream] == [4, 5]
        assert stream.caught_up and stream.last_sequence == 5

    await aclient.memory.delete_memory(session_id)
    assert (await aclient.memory.get_memory(session_id)).messages == []


async def test_import_from_an_async_iterable(aclient: AsyncMemoriaClient, session_id: str) -> None:
    async def history() -> AsyncIterator[Message]:
        for message in numbered(120):
            yield message

    result = await aclient.memory.import_messages(session_id, history(), batch_size=3)
    assert result == ImportResult(received=120, stored=120, duplicates=0, last_sequence=120)


async def test_follow_stream(aclient: AsyncMemoriaClient, session_id: str) -> None:
    await aclient.memory.add_memory(session_id, numbered(2))
    stream = aclient.memory.stream_messages(session_id, follow=True)
    assert [(await anext(stream)).sequence for _ in range(2)] == [1, 2]

    async def add_later() -> None:
        await asyncio.sleep(0.2)
        await aclient.memory.add_memory(session_id, numbered(1, start=2))

    adding = asyncio.create_task(add_later())
    assert (await anext(stream)).content == "message 2"
    await stream.aclose()
    await adding


async def test_session_and_user_calls(aclient: AsyncMemoriaClient) -> None:
    user_id = f"user-{uuid.uuid4().hex}"
    user = await aclient.user.create(user_id, first_name="Jane")
    assert await aclient.user.aget(user_id) == user
    assert (await aclient.user.update(user_id, email="jane@example.com")).email == (
        "jane@example.com"
    )
    assert user_id in [u.user_id async for u in aclient.user.list()]

    session = await aclient.session.create(f"{user_id}-s", user_id=user_id, metadata={"a": 1})
    assert await aclient.session.get(session.session_id) == session
    assert (await aclient.session.update(session.session_id, metadata={})).metadata == {}
    owned = [s.session_id async for s in aclient.user.list_sessions(user_id)]
    assert owned == [session.session_id]
    assert session.session_id in [s.session_id async for s in aclient.session.list(user_id=user_id)]
    await aclient.session.delete(session.session_id)
    assert await aclient.user.delete(user_id) == 0
    with pytest.raises(NotFoundError):
        await aclient.session.aget(session.session_id)


async def test_the_sync_client_awaitable_twins(live_server: ServerProcess, session_id: str) -> None:
    """The seed's shape: one client, blocking calls and their ``a…`` twins in ``async with``."""
    async with MemoriaClient(live_server.address) as client:
        await client.memory.aadd_memory(session_id, Memory(messages=numbered(3)))
        memory = await client.memory.aget_memory(session_id, memory_type="perpetual")
        blocking = client.memory.get_memory(session_id, memory_type="perpetual")
        assert memory == blocking and len(memory.messages) == 3
        assert [m.sequence async for m in client.memory.alist_messages(session_id)] == [1, 2, 3]
        assert [m.sequence async for m in client.memory.astream_messages(session_id)] == [1, 2, 3]
        result = await client.memory.aimport_messages(session_id, numbered(2))
        assert result.stored == 2
        await client.session.aupdate(session_id, metadata={"x": 1})
        assert (await client.session.aget(session_id)).metadata == {"x": 1}
        with pytest.raises(NotFoundError):
            await client.user.aget(f"nobody-{session_id}")


def test_the_sync_client_serves_one_event_loop_after_another(
    live_server: ServerProcess, session_id: str
) -> None:
    """A client made outside any loop; each ``asyncio.run`` gets a channel of its own."""
    client = MemoriaClient(live_server.address)
    asynchronous = AsyncMemoriaClient(live_server.address)
    for n in range(2):
        asyncio.run(client.memory.aadd_memory(session_id, numbered(1, start=n)))
        asyncio.run(asynchronous.memory.add_memory(session_id, numbered(1, start=n + 2)))
    assert [m.content for m in client.memory.list_messages(session_id)] == [
        "message 0",
        "message 2",
        "message 1",
        "message 3",
    ]
    client.close()
