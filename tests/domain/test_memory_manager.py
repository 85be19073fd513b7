"""MemoryManager: AddMemory, GetMemory, ListMessages, UpdateMessage as use cases."""

from __future__ import annotations

import pytest

from server.domain.errors import InvalidArgument, NotFound, Unavailable
from server.domain.inputs import MessageInput
from server.domain.memory import MAX_UNSUMMARIZED, MemoryManager
from server.domain.models import RoleType
from server.domain.ports.store import Store
from tests.domain.conftest import TENANT, WINDOW
from tests.support.records import summary_of

UUID = "5b0e6a8e-3c1f-4a8e-9d6b-1f2a3b4c5d01"


def said(content: str, **fields: object) -> MessageInput:
    return MessageInput(role_type="user", content=content, role="Jane", **fields)  # type: ignore[arg-type]


async def test_add_stores_in_order_with_token_counts(memory: MemoryManager) -> None:
    stored = await memory.add(
        TENANT, "s1", [said("one"), said("two words"), said("three more words")]
    )
    assert [(m.sequence, m.token_count) for m in stored] == [(1, 1), (2, 2), (3, 3)]
    assert all(m.role_type is RoleType.USER and m.uuid for m in stored)


async def test_a_retry_with_the_same_uuids_stores_nothing_twice(memory: MemoryManager) -> None:
    first = await memory.add(TENANT, "s1", [said("hello", uuid=UUID)])
    again = await memory.add(TENANT, "s1", [said("hello", uuid=UUID.upper()), said("new")])
    assert again[0] == first[0]
    assert again[1].sequence == 2
    assert len((await memory.get(TENANT, "s1", "message_window", 0)).messages) == 2


async def test_every_bad_field_of_a_request_is_named(memory: MemoryManager) -> None:
    bad = [
        MessageInput(role_type="", content="x"),
        MessageInput(role_type="wizard", content="y" * 2000, uuid="nope"),
        said("ok", uuid=UUID),
        said("repeat", uuid=UUID),
        said("meta", metadata={"system": 1}),
    ]
    with pytest.raises(InvalidArgument) as raised:
        await memory.add(TENANT, "bad id!", bad)
    assert {v.field for v in raised.value.violations} == {
        "session_id",
        "messages[0].role_type",
        "messages[1].role_type",
        "messages[1].content",
        "messages[1].uuid",
        "messages[3].uuid",
        "messages[4].metadata.system",
    }


async def test_a_rejected_request_stores_nothing(memory: MemoryManager, store: Store) -> None:
    with pytest.raises(InvalidArgument):
        await memory.add(
            TENANT, "s1", [said("fine"), MessageInput(role_type="", content="no type")]
        )
    assert await store.get_session("s1") is None


async def test_window_memory_is_the_last_messages_oldest_first(memory: MemoryManager) -> None:
    await memory.add(TENANT, "s1", [said(f"m{n}") for n in range(10)])
    window = await memory.get(TENANT, "s1", "message_window", 0)
    assert [m.content for m in window.messages] == [f"m{n}" for n in range(10 - WINDOW, 10)]
    assert window.token_count == WINDOW and window.summary is None
    assert [m.content for m in (await memory.get(TENANT, "s1", "", 2)).messages] == ["m8", "m9"]


async def test_perpetual_memory_is_the_summary_and_everything_after_it(
    memory: MemoryManager, store: Store
) -> None:
    stored = await memory.add(TENANT, "s1", [said(f"m{n}") for n in range(10)])
    await store.save_summary("s1", summary_of(stored[3], version=1, content="four said"))
    perpetual = await memory.get(TENANT, "s1", "perpetual", 0)
    assert perpetual.summary is not None and perpetual.summary.content == "four said"
    assert [m.sequence for m in perpetual.messages] == list(range(5, 11))
    assert perpetual.token_count == perpetual.summary.token_count + 6


async def test_unknown_sessions_are_not_found(memory: MemoryManager) -> None:
    for call in (
        memory.get(TENANT, "nobody", "perpetual", 0),
        memory.delete(TENANT, "nobody"),
        memory.list_messages(TENANT, "nobody", 10, ""),
        memory.get_message(TENANT, "nobody", UUID),
    ):
        with pytest.raises(NotFound):
            await call


async def test_list_messages_pages_with_tokens_bound_to_the_session(
    memory: MemoryManager,
) -> None:
    await memory.add(TENANT, "s1", [said(f"m{n}") for n in range(5)])
    await memory.add(TENANT, "s2", [said("other")])
    first = await memory.list_messages(TENANT, "s1", 2, "")
    second = await memory.list_messages(TENANT, "s1", 2, first.next_page_token)
    last = await memory.list_messages(TENANT, "s1", 2, second.next_page_token)
    assert [m.content for m in [*first.items, *second.items, *last.items]] == [
        f"m{n}" for n in range(5)
    ]
    assert last.next_page_token == ""
    with pytest.raises(InvalidArgument, match="different request"):
        await memory.list_messages(TENANT, "s2", 2, first.next_page_token)


async def test_update_message_keeps_the_reserved_key(memory: MemoryManager, store: Store) -> None:
    [stored] = await memory.add(TENANT, "s1", [said("hi", metadata={"a": 1})])
    await store.replace_message_metadata("s1", stored.uuid, {"system": {"by": "server"}})
    updated = await memory.update_message(TENANT, "s1", stored.uuid, ["metadata"], {"b": 2})
    assert updated.metadata == {"b": 2, "system": {"by": "server"}}
    with pytest.raises(InvalidArgument, match="update_mask"):
        await memory.update_message(TENANT, "s1", stored.uuid, ["content"], {})


async def test_delete_memory_keeps_the_session_and_sequences_go_on(
    memory: MemoryManager, store: Store
) -> None:
    await memory.add(TENANT, "s1", [said("a"), said("b")])
    await memory.delete(TENANT, "s1")
    assert (await memory.get(TENANT, "s1", "message_window", 0)).messages == []
    [after] = await memory.add(TENANT, "s1", [said("c")])
    assert after.sequence == 3
    assert await store.get_session("s1") is not None


async def test_perpetual_memory_without_a_summary_leaves_nothing_out(
    memory: MemoryManager,
) -> None:
    """Before a first summary (or while the summarizer fails) every message is returned."""
    await memory.add(TENANT, "s1", [said(f"m{n}") for n in range(30)])
    perpetual = await memory.get(TENANT, "s1", "perpetual", 5)
    assert perpetual.summary is None
    assert [m.content for m in perpetual.messages] == [f"m{n}" for n in range(30)]


async def test_perpetual_memory_beyond_the_bound_is_summary_behind(memory: MemoryManager) -> None:
    """More than MAX_UNSUMMARIZED unsummarized messages and no summary: UNAVAILABLE."""
    for start in range(0, MAX_UNSUMMARIZED + 1, 50):
        count = min(50, MAX_UNSUMMARIZED + 1 - start)
        await memory.add(TENANT, "s1", [said(f"m{start + n}") for n in range(count)])
    with pytest.raises(Unavailable) as raised:
        await memory.get(TENANT, "s1", "perpetual", 0)
    assert raised.value.reason == "SUMMARY_BEHIND"
    assert raised.value.facts["summarized_through"] == "0"
    assert "no summary exists yet" in str(raised.value)
