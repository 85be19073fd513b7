"""A following stream waits at a hole in the newest sequences instead of skipping it.

On MongoDB two processes may insert their blocks of one session out of order;
the store here plays that: its readers move forward like a database cursor and
never return to a sequence they passed.
"""

from __future__ import annotations

import asyncio
from typing import cast

from server.domain.follower_wakeups import AppendSignals
from server.domain.models import Message, Session
from server.domain.ports.store import MessageReader, Store
from server.domain.streams import MessageBatch, StreamRequest, stream_messages
from tests.support.records import new_message, new_session


class _CursorReader:
    def __init__(self, store: _OutOfOrderStore, after: int) -> None:
        self._store = store
        self._after = after

    async def read(self, limit: int) -> list[Message] | None:
        found = sorted(
            (m for m in self._store.messages if m.sequence > self._after),
            key=lambda m: m.sequence,
        )[:limit]
        if found:
            self._after = found[-1].sequence
        return found

    async def close(self) -> None:
        return None


class _OutOfOrderStore:
    """Just what ``stream_messages`` uses of a store."""

    def __init__(self, *sequences: int) -> None:
        self.messages: list[Message] = []
        self.add(*sequences)

    def add(self, *sequences: int) -> None:
        self.messages += [new_message(f"message {n}").stored_at(n) for n in sequences]

    def read_messages(
        self, session_id: str, *, after_sequence: int, batch_size: int
    ) -> MessageReader:
        return _CursorReader(self, after_sequence)

    async def get_session(self, session_id: str) -> Session:
        return new_session(session_id)


async def _follow(store: _OutOfOrderStore, gap_grace: float) -> asyncio.Queue[MessageBatch]:
    batches: asyncio.Queue[MessageBatch] = asyncio.Queue()

    async def run() -> None:
        request = StreamRequest(session_id="s", follow=True)
        async for batch in stream_messages(
            cast(Store, store), AppendSignals(), 0.01, request, budget=4 << 20, gap_grace=gap_grace
        ):
            await batches.put(batch)

    asyncio.get_running_loop().create_task(run())
    return batches


async def _sequences(batches: asyncio.Queue[MessageBatch], count: int) -> list[int]:
    sequences: list[int] = []
    while len(sequences) < count:
        batch = await asyncio.wait_for(batches.get(), 5)
        sequences += [m.sequence for m in batch.messages]
    return sequences


async def test_a_late_message_is_delivered_in_its_place() -> None:
    store = _OutOfOrderStore(1, 2, 4, 5)  # 3 is still being inserted by another process
    batches = await _follow(store, gap_grace=30)
    assert await _sequences(batches, 2) == [1, 2]
    await asyncio.sleep(0.1)
    assert batches.empty()  # 4 and 5 wait for 3
    store.add(3)
    assert await _sequences(batches, 3) == [3, 4, 5]


async def test_a_hole_for_good_is_passed_after_the_grace() -> None:
    store = _OutOfOrderStore(1, 2, 4)
    batches = await _follow(store, gap_grace=0.2)
    assert await _sequences(batches, 3) == [1, 2, 4]
    store.add(5)
    assert await _sequences(batches, 1) == [5]


async def test_a_history_starting_after_deleted_messages_is_not_held() -> None:
    store = _OutOfOrderStore(40, 41)  # DeleteMemory removed 1..39; sequences go on
    batches = await _follow(store, gap_grace=30)
    assert await _sequences(batches, 2) == [40, 41]
