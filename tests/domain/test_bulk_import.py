"""ImportMessages as a use case: batched, idempotent by uuid, resumable after a bad message."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime

import pytest

from server.domain.bulk_import import IMPORT_INCOMPLETE
from server.domain.errors import InvalidArgument
from server.domain.inputs import ImportBatch, MessageInput
from server.domain.memory import MemoryManager
from server.domain.models import AppendResult, NewMessage
from server.domain.ports.store import Store
from tests.domain.conftest import LIMITS, TENANT, WINDOW, WordCounter


def archived(n: int) -> MessageInput:
    return MessageInput(
        role_type="assistant" if n % 2 else "user",
        content=f"message number {n}",
        uuid=f"00000000-0000-4000-8000-{n:012d}",
        created_at=(1_700_000_000 + n, 0),
    )


async def stream(*batches: ImportBatch) -> AsyncIterator[ImportBatch]:
    for batch in batches:
        yield batch


def batches(session_id: str, messages: Sequence[MessageInput], size: int) -> list[ImportBatch]:
    chunks = [messages[i : i + size] for i in range(0, len(messages), size)]
    return [ImportBatch(session_id if n == 0 else "", c) for n, c in enumerate(chunks)]


async def test_an_import_twice_stores_once(memory: MemoryManager) -> None:
    history = [archived(n) for n in range(1, 31)]
    first = await memory.import_messages(TENANT, stream(*batches("s1", history, 4)))
    again = await memory.import_messages(TENANT, stream(*batches("s1", history, 9)))
    assert (first.received, first.stored, first.duplicates, first.last_sequence) == (30, 30, 0, 30)
    assert (again.stored, again.duplicates) == (0, 30)
    page = await memory.list_messages(TENANT, "s1", 100, "")
    assert [m.content for m in page.items] == [f"message number {n}" for n in range(1, 31)]
    assert page.items[0].created_at.timestamp() == 1_700_000_001
    assert [m.token_count for m in page.items] == [3] * 30


async def test_a_bad_message_commits_everything_before_it(memory: MemoryManager) -> None:
    history = [archived(n) for n in range(1, 21)]
    history[12] = MessageInput(role_type="wizard", content="?")
    with pytest.raises(InvalidArgument) as raised:
        await memory.import_messages(TENANT, stream(*batches("s1", history, 5)))
    error = raised.value
    assert [v.field for v in error.violations] == ["messages[12].role_type"]
    assert error.reason == IMPORT_INCOMPLETE and error.facts["committed"] == "12"
    page = await memory.list_messages(TENANT, "s1", 100, "")
    assert len(page.items) == 12


async def test_a_stream_that_changes_session_is_refused(memory: MemoryManager) -> None:
    with pytest.raises(InvalidArgument, match="another session"):
        await memory.import_messages(
            TENANT, stream(ImportBatch("s1", [archived(1)]), ImportBatch("s2", [archived(2)]))
        )


async def test_an_empty_stream_must_name_a_session(memory: MemoryManager) -> None:
    with pytest.raises(InvalidArgument, match="session_id"):
        await memory.import_messages(TENANT, stream())


async def test_store_writes_are_bounded_by_count_and_by_bytes(store: Store) -> None:
    """An append holds ``write_batch`` messages, fewer once their contents reach ``write_bytes``."""
    appended: list[int] = []
    append_messages = store.append_messages

    async def counted(
        session_id: str, messages: Sequence[NewMessage], now: datetime
    ) -> AppendResult:
        appended.append(len(messages))
        return await append_messages(session_id, messages, now)

    memory = MemoryManager(
        store, WordCounter(), LIMITS, WINDOW, import_write_batch=4, import_write_bytes=100
    )
    store.append_messages = counted  # type: ignore[method-assign]
    small = [archived(n) for n in range(1, 11)]  # 16-17 bytes each
    large = [MessageInput(role_type="user", content="é" * 30) for _ in range(5)]  # 60 bytes each
    report = await memory.import_messages(TENANT, stream(*batches("s1", small + large, 6)))
    assert report.stored == 15
    # By count: 4 small, 4 small, 2 small and 2 large; by bytes: 2 large (120 bytes).
    assert appended == [4, 4, 4, 2, 1]
