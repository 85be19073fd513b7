"""Storage contract: reading a session's messages through a MessageReader."""

from __future__ import annotations

from server.domain.ports.store import Store
from tests.support.records import NOW, new_message


async def test_reader_reads_in_order_in_the_sizes_asked_for(store: Store) -> None:
    """Reads continue where the previous one stopped; a short read means the end."""
    await store.append_messages("s1", [new_message(str(n)) for n in range(25)], NOW)
    reader = store.read_messages("s1", after_sequence=3, batch_size=10)
    try:
        sizes, contents = [], []
        for limit in (2, 10, 10, 10):
            batch = await reader.read(limit) or []
            sizes.append(len(batch))
            contents += [m.content for m in batch]
    finally:
        await reader.close()
    assert sizes == [2, 10, 10, 0]
    assert contents == [str(n) for n in range(3, 25)]


async def test_reader_sees_messages_stored_after_it_reached_the_end(store: Store) -> None:
    """After a short read, the next read returns what was appended since (follow mode)."""
    await store.append_messages("s1", [new_message("a")], NOW)
    reader = store.read_messages("s1", after_sequence=0, batch_size=5)
    try:
        assert [m.content for m in await reader.read(5) or []] == ["a"]
        assert await reader.read(5) == []
        await store.append_messages("s1", [new_message("b"), new_message("c")], NOW)
        assert [m.sequence for m in await reader.read(5) or []] == [2, 3]
    finally:
        await reader.close()
        await reader.close()  # idempotent


async def test_reader_of_a_missing_session_reads_none(store: Store) -> None:
    """None for an unknown session, and once the session is deleted mid-read."""
    reader = store.read_messages("nobody", after_sequence=0, batch_size=5)
    assert await reader.read(5) is None
    await reader.close()

    await store.append_messages("s1", [new_message(str(n)) for n in range(10)], NOW)
    reader = store.read_messages("s1", after_sequence=0, batch_size=5)
    try:
        assert len(await reader.read(5) or []) == 5
        await store.delete_session("s1")
        assert await reader.read(5) is None
    finally:
        await reader.close()
