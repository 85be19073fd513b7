"""MemoryService through the generated stubs, against a real server."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf import field_mask_pb2
from memoria.v1 import memory_service_pb2 as pb
from memoria.v1 import message_pb2

from bench.harness.requests import SEED_CONVERSATION, message, struct
from bench.harness.stubs import Stubs

# Storage behaviour through the server: on every store kind.
pytestmark = pytest.mark.all_stores


def add(stubs: Stubs, session_id: str, *messages: message_pb2.Message) -> pb.AddMemoryResponse:
    """AddMemory returning whole messages (MESSAGE_VIEW_FULL)."""
    return stubs.memory.AddMemory(
        pb.AddMemoryRequest(session_id=session_id, messages=messages, view=pb.MESSAGE_VIEW_FULL)
    )


def test_seed_conversation_round_trip(stubs: Stubs, session_id: str) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    added = add(stubs, session_id, *SEED_CONVERSATION).messages
    assert len(added) == 3
    for sent, stored in zip(SEED_CONVERSATION, added, strict=True):
        assert uuid.UUID(stored.uuid).version == 4
        assert stored.token_count > 0
        assert stored.created_at.ToDatetime(UTC) >= before
        assert (stored.role, stored.role_type, stored.content) == (
            sent.role,
            sent.role_type,
            sent.content,
        )
    assert [m.sequence for m in added] == [1, 2, 3]
    assert added[0].token_count == 6  # "Who was Octavia Butler?" in cl100k_base

    for memory_type in (pb.MEMORY_TYPE_MESSAGE_WINDOW, pb.MEMORY_TYPE_PERPETUAL):
        memory = stubs.memory.GetMemory(
            pb.GetMemoryRequest(session_id=session_id, memory_type=memory_type)
        )
        assert list(memory.messages) == list(added)
        assert memory.token_count == sum(m.token_count for m in added)
        assert not memory.HasField("summary")
    assert dict(memory.messages[2].metadata) == {"foo": "bar"}
    assert [m.role for m in memory.messages] == ["Jane", "HistoryBot", "Jane"]


def test_window_defaults_to_twelve_and_honours_lastn(stubs: Stubs, session_id: str) -> None:
    add(stubs, session_id, *[message(f"message {n}") for n in range(30)])
    window = stubs.memory.GetMemory(pb.GetMemoryRequest(session_id=session_id))
    assert [m.content for m in window.messages] == [f"message {n}" for n in range(18, 30)]
    last3 = stubs.memory.GetMemory(pb.GetMemoryRequest(session_id=session_id, lastn=3))
    assert [m.content for m in last3.messages] == ["message 27", "message 28", "message 29"]
    assert last3.token_count == sum(m.token_count for m in last3.messages)


def test_retry_with_same_uuids_adds_nothing(stubs: Stubs, session_id: str) -> None:
    ids = [str(uuid.uuid4()) for _ in range(3)]
    batch = [message(f"m{n}", uuid=ids[n]) for n in range(3)]
    first = add(stubs, session_id, *batch)
    second = add(stubs, session_id, *batch)
    assert list(second.messages) == list(first.messages)
    assert [m.uuid for m in first.messages] == ids
    listed = stubs.memory.ListMessages(pb.ListMessagesRequest(session_id=session_id))
    assert [m.uuid for m in listed.messages] == ids


def test_hundred_concurrent_adds_store_each_message_once(stubs: Stubs, session_id: str) -> None:
    futures = [
        stubs.memory.AddMemory.future(
            pb.AddMemoryRequest(
                session_id=session_id,
                messages=[message(f"{batch}:{n}") for n in range(3)],
            )
        )
        for batch in range(100)
    ]
    responses = [future.result(timeout=60) for future in futures]
    assert all(len(r.messages) == 3 for r in responses)
    stored = stubs.memory.ListMessages(
        pb.ListMessagesRequest(session_id=session_id, page_size=1000)
    ).messages
    assert [m.sequence for m in stored] == list(range(1, 301))
    assert sorted(m.content for m in stored) == sorted(
        f"{b}:{n}" for b in range(100) for n in range(3)
    )
    for start in range(0, 300, 3):
        batch_ids = {m.content.split(":")[0] for m in stored[start : start + 3]}
        assert len(batch_ids) == 1, f"batch interleaved at sequence {start + 1}"


def test_list_messages_pages_with_opaque_token(stubs: Stubs, session_id: str) -> None:
    for chunk in range(3):
        add(stubs, session_id, *[message(f"{chunk * 100 + n}") for n in range(100)])
    contents: list[str] = []
    token = ""
    pages = 0
    while True:
        page = stubs.memory.ListMessages(
            pb.ListMessagesRequest(session_id=session_id, page_size=120, page_token=token)
        )
        contents += [m.content for m in page.messages]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert pages == 3
    assert contents == [str(n) for n in range(300)]


def test_get_and_update_message_metadata(stubs: Stubs, session_id: str) -> None:
    [stored] = add(stubs, session_id, message("hi", metadata={"a": 1})).messages
    got = stubs.memory.GetMessage(pb.GetMessageRequest(session_id=session_id, uuid=stored.uuid))
    assert got.message == stored
    updated = stubs.memory.UpdateMessage(
        pb.UpdateMessageRequest(
            session_id=session_id,
            uuid=stored.uuid.upper(),  # any spelling of the uuid names the message
            metadata=struct({"b": {"c": [1, 2]}}),
            update_mask=field_mask_pb2.FieldMask(paths=["metadata"]),
        )
    ).message
    assert updated.metadata == struct({"b": {"c": [1, 2]}})
    assert updated.content == "hi" and updated.sequence == stored.sequence
    reread = stubs.memory.GetMessage(pb.GetMessageRequest(session_id=session_id, uuid=stored.uuid))
    assert reread.message == updated


def test_delete_memory_is_hard_and_session_reusable_at_once(stubs: Stubs, session_id: str) -> None:
    add(stubs, session_id, *SEED_CONVERSATION)
    stubs.memory.DeleteMemory(pb.DeleteMemoryRequest(session_id=session_id))
    memory = stubs.memory.GetMemory(pb.GetMemoryRequest(session_id=session_id))
    assert list(memory.messages) == [] and memory.token_count == 0
    [fresh] = add(stubs, session_id, message("again")).messages
    memory = stubs.memory.GetMemory(pb.GetMemoryRequest(session_id=session_id))
    assert [m.uuid for m in memory.messages] == [fresh.uuid]
