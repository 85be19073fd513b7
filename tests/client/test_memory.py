"""client.memory of MemoriaClient against a live server."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from memoria_client import ImportResult, InvalidArgumentError, MemoriaClient, Memory, Message

SEED = [
    Message(role="Jane", role_type="user", content="Who was Octavia Butler?"),
    Message(
        role="HistoryBot",
        role_type="assistant",
        content="Octavia Estelle Butler (1947–2006) was an American science fiction author.",
    ),
    Message(
        role="Jane",
        role_type="user",
        content="Which books of hers were made into movies?",
        metadata={"foo": "bar", "turn": 3, "scores": [1, 2.5], "nested": {"ok": True}},
    ),
]


def seed_messages() -> list[Message]:
    return [Message(**{**vars(m), "metadata": dict(m.metadata)}) for m in SEED]


def numbered(count: int, start: int = 0) -> list[Message]:
    return [Message(role_type="user", content=f"message {n}") for n in range(start, start + count)]


def test_add_memory_returns_the_messages_as_stored(client: MemoriaClient, session_id: str) -> None:
    messages = seed_messages()
    before = datetime.now(UTC) - timedelta(seconds=5)

    stored = client.memory.add_memory(session_id, Memory(messages=messages))

    assert [m.sequence for m in stored] == [1, 2, 3]
    assert [m.uuid for m in stored] == [m.uuid for m in messages]  # assigned before sending
    assert all(m.uuid and len(m.uuid) == 36 for m in messages)
    assert [(m.role, m.role_type, m.content) for m in stored] == [
        (m.role, m.role_type, m.content) for m in SEED
    ]
    assert all(m.token_count and m.token_count > 0 for m in stored)
    assert all(m.created_at and m.created_at > before for m in stored)
    # JSON numbers that are whole come back as int, the rest as float.
    assert stored[2].metadata == {
        "foo": "bar",
        "turn": 3,
        "scores": [1, 2.5],
        "nested": {"ok": True},
    }
    assert isinstance(stored[2].metadata["turn"], int)
    assert stored[0].metadata == {}


def test_add_memory_sent_again_stores_nothing_twice(client: MemoriaClient, session_id: str) -> None:
    memory = Memory(messages=seed_messages())
    first = client.memory.add_memory(session_id, memory)
    again = client.memory.add_memory(session_id, memory)  # what a retry sends

    assert again == first
    assert [m.sequence for m in client.memory.list_messages(session_id)] == [1, 2, 3]


def test_add_memory_takes_a_plain_list(client: MemoriaClient, session_id: str) -> None:
    stored = client.memory.add_memory(session_id, numbered(2))
    assert [m.content for m in stored] == ["message 0", "message 1"]


def test_get_memory_message_window(client: MemoriaClient, session_id: str) -> None:
    client.memory.add_memory(session_id, numbered(20))

    window = client.memory.get_memory(session_id)
    last_five = client.memory.get_memory(session_id, "message_window", lastn=5)

    assert [m.sequence for m in window.messages] == list(range(9, 21))  # the default window
    assert window.summary is None
    assert window.token_count == sum(m.token_count or 0 for m in window.messages)
    assert [m.content for m in last_five.messages] == [f"message {n}" for n in range(15, 20)]


def test_get_memory_perpetual_has_the_summary_and_no_gap(
    client: MemoriaClient, session_id: str
) -> None:
    client.memory.add_memory(session_id, numbered(30))

    deadline = time.monotonic() + 20
    memory = client.memory.get_memory(session_id, memory_type="perpetual")
    while memory.summary is None and time.monotonic() < deadline:
        time.sleep(0.1)
        memory = client.memory.get_memory(session_id, memory_type="perpetual")

    summary = memory.summary
    assert summary is not None, "no summary within 20 s"
    assert summary.content and summary.version >= 1 and summary.uuid
    assert summary.created_at is not None
    first = summary.last_message_sequence + 1
    assert [m.sequence for m in memory.messages] == list(range(first, 31))
    assert (
        summary.last_message_uuid
        == client.memory.get_message(
            session_id, _uuid_at(client, session_id, summary.last_message_sequence)
        ).uuid
    )
    assert memory.token_count == summary.token_count + sum(
        m.token_count or 0 for m in memory.messages
    )


def _uuid_at(client: MemoriaClient, session_id: str, sequence: int) -> str:
    found = next(m for m in client.memory.list_messages(session_id) if m.sequence == sequence)
    assert found.uuid is not None
    return found.uuid


def test_delete_memory_keeps_the_session(client: MemoriaClient, session_id: str) -> None:
    client.session.create(session_id, metadata={"kept": True})
    client.memory.add_memory(session_id, numbered(3))

    client.memory.delete_memory(session_id)

    assert client.memory.get_memory(session_id).messages == []
    assert client.session.get(session_id).metadata == {"kept": True}
    assert [m.sequence for m in client.memory.add_memory(session_id, numbered(1))] == [4]


def test_list_messages_follows_the_pages(client: MemoriaClient, session_id: str) -> None:
    client.memory.add_memory(session_id, numbered(7))

    listed = list(client.memory.list_messages(session_id, page_size=2))

    assert [m.content for m in listed] == [f"message {n}" for n in range(7)]


def test_get_and_update_message(client: MemoriaClient, session_id: str) -> None:
    stored = client.memory.add_memory(session_id, seed_messages())
    uuid = stored[2].uuid
    assert uuid is not None

    assert client.memory.get_message(session_id, uuid) == stored[2]
    updated = client.memory.update_message(session_id, uuid, metadata={"rating": 5})

    assert updated.metadata == {"rating": 5}
    assert client.memory.get_message(session_id, uuid).metadata == {"rating": 5}
    assert updated.content == stored[2].content


def test_stream_messages_from_the_start_and_after(client: MemoriaClient, session_id: str) -> None:
    stored = client.memory.add_memory(session_id, numbered(25))

    with client.memory.stream_messages(session_id, batch_size=4) as stream:
        everything = [m.sequence for m in stream]
        assert stream.caught_up and stream.last_sequence == 25
    after_sequence = [m.sequence for m in client.memory.stream_messages(session_id, after=20)]
    after_uuid = [
        m.sequence for m in client.memory.stream_messages(session_id, after=stored[22].uuid)
    ]

    assert everything == list(range(1, 26))
    assert after_sequence == [21, 22, 23, 24, 25]
    assert after_uuid == [24, 25]


def test_stream_messages_follow_delivers_new_messages(
    client: MemoriaClient, live_server: object, session_id: str
) -> None:
    client.memory.add_memory(session_id, numbered(3))
    stream = client.memory.stream_messages(session_id, follow=True)
    assert [next(stream).sequence for _ in range(3)] == [1, 2, 3]

    later = threading.Timer(0.3, client.memory.add_memory, (session_id, numbered(2, start=3)))
    later.start()
    arrived = [next(stream).content for _ in range(2)]
    stream.close()
    later.join()

    assert arrived == ["message 3", "message 4"]
    assert stream.last_sequence == 5
    with pytest.raises(StopIteration):
        next(stream)


def test_import_messages_in_several_calls_and_again(client: MemoriaClient, session_id: str) -> None:
    originally = datetime(2021, 5, 16, 21, 59, 11, 57919, tzinfo=UTC)
    history = numbered(250)
    history[0].created_at = originally

    result = client.memory.import_messages(session_id, iter(history), batch_size=5)
    again = client.memory.import_messages(session_id, history, batch_size=5)

    # 5 a request and 20 requests a call: 3 calls, each of which could be sent again.
    assert result == ImportResult(received=250, stored=250, duplicates=0, last_sequence=250)
    assert again == ImportResult(received=250, stored=0, duplicates=250, last_sequence=250)
    listed = list(client.memory.list_messages(session_id, page_size=1000))
    assert [m.content for m in listed] == [m.content for m in history]
    assert listed[0].created_at == originally


def test_import_messages_error_counts_from_the_start_of_the_history(
    client: MemoriaClient, session_id: str
) -> None:
    history = numbered(250)
    history[230].metadata = {"system": "not yours"}

    with pytest.raises(InvalidArgumentError) as raised:
        client.memory.import_messages(session_id, history, batch_size=5)

    error = raised.value
    assert error.reason == "IMPORT_INCOMPLETE"
    assert error.metadata["committed"] == "230"
    assert [v.field for v in error.field_violations] == ["messages[230].metadata.system"]
    assert client.session.get(session_id).message_count == 230


def test_import_of_nothing(client: MemoriaClient, session_id: str) -> None:
    result = client.memory.import_messages(session_id, [])
    assert result == ImportResult(received=0, stored=0, duplicates=0, last_sequence=0)


def test_role_type_is_checked_before_sending(client: MemoriaClient, session_id: str) -> None:
    with pytest.raises(ValueError, match="role_type must be one of user, assistant"):
        client.memory.add_memory(session_id, [Message(role_type="robot", content="x")])  # type: ignore[arg-type]
