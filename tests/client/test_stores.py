"""One round trip through the client on each store the suite runs (SQLite and MongoDB):
the client's other tests use SQLite only, as the store makes no difference to it."""

from __future__ import annotations

import pytest
from memoria_client import MemoriaClient, Message

from bench.harness.server_process import ServerProcess

pytestmark = pytest.mark.all_stores


def test_round_trip(server: ServerProcess, session_id: str) -> None:
    with MemoriaClient(server.address) as client:
        stored = client.memory.add_memory(
            session_id, [Message(role="Jane", role_type="user", content="hello", metadata={"n": 1})]
        )
        imported = client.memory.import_messages(
            session_id, [Message(role_type="assistant", content=f"reply {n}") for n in range(3)]
        )
        memory = client.memory.get_memory(session_id, memory_type="perpetual")
        streamed = [m.sequence for m in client.memory.stream_messages(session_id, after=1)]

    assert stored[0].metadata == {"n": 1} and stored[0].sequence == 1
    assert (imported.stored, imported.last_sequence) == (3, 4)
    assert [m.content for m in memory.messages] == ["hello", "reply 0", "reply 1", "reply 2"]
    assert streamed == [2, 3, 4]
