"""Message readers on one server-side cursor: what happens when the server drops it."""

from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase

from server.storage.mongo import MongoStore
from server.storage.mongo.cursor_reader import CursorReader
from server.storage.mongo.documents import Document
from tests.support.records import NOW, new_message


async def test_reader_reopens_a_cursor_the_server_dropped(
    store: MongoStore, raw: AsyncDatabase[Document]
) -> None:
    """A cursor killed on the server (as its idle timeout does to a stream whose
    client stopped reading) is reopened after the last message read: nothing is
    missed or repeated, the messages in the driver's batch included."""
    await store.append_messages("s1", [new_message(f"m{n}") for n in range(1, 301)], NOW)
    reader = store.read_messages("s1", after_sequence=0, batch_size=100)
    assert isinstance(reader, CursorReader)
    try:
        first = await reader.read(50) or []  # half of the driver's first batch of 100
        cursor = reader._cursor  # the server-side cursor that a timeout would drop
        assert cursor is not None and cursor.cursor_id
        killed = await raw.command("killCursors", "messages", cursors=[cursor.cursor_id])
        assert killed["cursorsKilled"] == [cursor.cursor_id]
        rest = [m for _ in range(3) for m in await reader.read(100) or []]
    finally:
        await reader.close()
    assert [m.sequence for m in first + rest] == list(range(1, 301))
    assert [m.content for m in first + rest] == [f"m{n}" for n in range(1, 301)]
