"""Who hears of new messages: followers of a stream, the summary worker.

Appends reach the store through AddMemory and ImportMessages; both tell the
listeners once the messages are stored.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["AppendListener", "AppendListeners"]


class AppendListener(Protocol):
    def appended(self, session_id: str, last_sequence: int) -> None:
        """Messages were appended to the session, the newest at ``last_sequence``.
        Must return at once (it runs in the caller's request)."""


class AppendListeners:
    """Tells each of several listeners, in order."""

    def __init__(self, *listeners: AppendListener) -> None:
        self._listeners = listeners

    def appended(self, session_id: str, last_sequence: int) -> None:
        for listener in self._listeners:
            listener.appended(session_id, last_sequence)
