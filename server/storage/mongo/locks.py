"""One asyncio lock per session, for the writes of this process."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

__all__ = ["SessionLocks"]


class SessionLocks:
    """Serializes the writes to one session within this process.

    Without transactions, two appends to one session that run at once would
    reserve their sequences in turn but could insert them in either order, and
    on FerretDB (whose ``$inc`` is not atomic) could even reserve the same ones;
    the unique index catches that, but each catch costs a retry. Holding the
    session's lock around every write of the session avoids both in the common
    case of one server process per session. A lock lives only while a
    coroutine holds or awaits it: the map holds it weakly.
    """

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    @asynccontextmanager
    async def hold(self, session_id: str) -> AsyncIterator[None]:
        lock = self._locks.get(session_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[session_id] = lock
        async with lock:
            yield

    def __len__(self) -> int:
        return len(self._locks)
