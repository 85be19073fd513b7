"""A typed tour of the client, checked by ``mypy --strict`` (``make lint``).

Run it against a server: ``python clients/python/examples/typed_usage.py [host:port]``.
"""

from __future__ import annotations

import asyncio
import sys
import uuid

from memoria_client import (
    AsyncMemoriaClient,
    MemoriaClient,
    Memory,
    Message,
    NotFoundError,
    Session,
)


def sync_tour(target: str) -> list[str]:
    session_id = f"typed-{uuid.uuid4().hex}"
    with MemoriaClient(target) as client:
        client.session.create(session_id, metadata={"channel": "web"})
        stored: list[Message] = client.memory.add_memory(
            session_id,
            Memory(messages=[Message(role="Jane", role_type="user", content="Hello!")]),
        )
        memory: Memory = client.memory.get_memory(session_id, memory_type="perpetual")
        session: Session = client.session.update(session_id, metadata={"channel": "app"})
        contents = [m.content for m in client.memory.list_messages(session_id)]
        assert stored[0].sequence == 1 and memory.token_count > 0
        assert session.metadata == {"channel": "app"}
        client.session.delete(session_id)
        try:
            client.memory.get_memory(session_id)
        except NotFoundError as error:
            contents.append(error.resource_type)
    return contents


async def async_tour(target: str) -> list[str]:
    session_id = f"typed-{uuid.uuid4().hex}"
    async with AsyncMemoriaClient(target) as client:
        await client.memory.add_memory(
            session_id, [Message(role_type="assistant", content="Hi, Jane.")]
        )
        async with client.memory.stream_messages(session_id) as stream:
            contents = [message.content async for message in stream]
        await client.session.delete(session_id)
    return contents


if __name__ == "__main__":
    address = sys.argv[1] if len(sys.argv) > 1 else "localhost:50051"
    print(sync_tour(address))
    print(asyncio.run(async_tour(address)))
