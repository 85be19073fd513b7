"""Reading a span of a session's messages, bounded by count and by bytes.

Background work (search indexing, folding a long backlog into the summary) reads
many messages at once: each read of a span costs a query, and on FerretDB v1 a
query scans the whole messages collection, so few large reads beat many small
ones. Contents go up to 1 MiB, so a count alone cannot bound the memory a span
holds; its bytes do. The span is read through one ``MessageReader`` (one
database cursor), a few messages first, then as many as the average size read so
far leaves room for, at most ``READ_CHUNK`` at a time: it holds at most
``max_bytes`` plus a few messages.
"""

from __future__ import annotations

from server.domain.models import Message
from server.domain.ports.store import Store

__all__ = ["FIRST_READ", "READ_CHUNK", "read_span"]

FIRST_READ = 4
READ_CHUNK = 100


async def read_span(
    store: Store, session_id: str, *, after: int, through: int, limit: int, max_bytes: int
) -> list[Message] | None:
    """The messages after sequence ``after``, oldest first, up to the first past
    ``through`` (or the end), at most ``limit`` and stopping once their contents
    reach ``max_bytes``. None when the session does not exist."""
    reader = store.read_messages(
        session_id, after_sequence=after, batch_size=min(limit, READ_CHUNK)
    )
    messages: list[Message] = []
    size = 0
    try:
        while len(messages) < limit and size < max_bytes:
            room = (max_bytes - size) * len(messages) // size if size else FIRST_READ
            asked = max(1, min(READ_CHUNK, limit - len(messages), room))
            read = await reader.read(asked)
            if read is None:
                return None
            messages += read
            size += sum(len(m.content.encode()) for m in read)
            if len(read) < asked or (read and read[-1].sequence >= through):
                break
    finally:
        await reader.close()
    return messages
