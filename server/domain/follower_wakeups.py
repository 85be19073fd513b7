"""In-process wake-ups for streams that follow a session.

A following stream polls the store every ``poll_interval`` seconds: that is
what sees messages stored by another server process sharing the database, and
it works on every store (MongoDB change streams would need a replica set, and
FerretDB v1 has none). Messages stored through this process wake its
followers at once instead of at the next poll.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

__all__ = ["AppendSignals"]


class AppendSignals:
    """Per-session wake-ups: ``notify`` sets the event of every subscriber of a session.

    A subscriber clears its event before reading the store, then waits on it, so a
    notification that arrives between the read and the wait is not lost.
    """

    def __init__(self) -> None:
        self._subscribers: dict[str, set[asyncio.Event]] = {}
        self._closed = False

    @property
    def closed(self) -> bool:
        """True once the server is shutting down: followers should end their stream."""
        return self._closed

    def appended(self, session_id: str, last_sequence: int, *, imported: bool = False) -> None:
        """An ``AppendListener``: wakes the session's followers."""
        self.notify(session_id)

    def notify(self, session_id: str) -> None:
        for event in self._subscribers.get(session_id, ()):
            event.set()

    @contextlib.contextmanager
    def subscribe(self, session_id: str) -> Iterator[asyncio.Event]:
        event = asyncio.Event()
        if self._closed:
            event.set()
        self._subscribers.setdefault(session_id, set()).add(event)
        try:
            yield event
        finally:
            subscribers = self._subscribers[session_id]
            subscribers.discard(event)
            if not subscribers:
                del self._subscribers[session_id]

    def close(self) -> None:
        """Wakes every follower for good (server shutdown)."""
        self._closed = True
        for subscribers in self._subscribers.values():
            for event in subscribers:
                event.set()


async def wait_for(event: asyncio.Event, seconds: float) -> None:
    """Returns when ``event`` is set or ``seconds`` have passed."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)
