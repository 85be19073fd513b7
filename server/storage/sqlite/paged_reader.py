"""A ``MessageReader`` made of page reads, for stores whose page read is cheap."""

from __future__ import annotations

from server.domain.models import Message
from server.domain.ports.store import Store

__all__ = ["PagedReader"]


class PagedReader:
    """Each ``read`` is one ``list_messages`` after the last sequence read: a keyset
    page on the (session, sequence) key, whose cost does not grow with the history.
    Holds no database resource between reads."""

    def __init__(self, store: Store, session_id: str, after_sequence: int) -> None:
        self._store = store
        self._session_id = session_id
        self._after = after_sequence

    async def read(self, limit: int) -> list[Message] | None:
        messages = await self._store.list_messages(
            self._session_id, after_sequence=self._after, limit=limit
        )
        if messages:
            self._after = messages[-1].sequence
        return messages

    async def close(self) -> None:
        pass
