"""Who hears of new messages: followers of a stream, the summary worker.

Appends reach the store through AddMemory and ImportMessages; both tell the
listeners once the messages are stored.
"""

from __future__ import annotations

from typing import Protocol

from server.domain.tenancy import scoped_key

__all__ = ["AppendListener", "AppendListeners", "TenantListener"]


class AppendListener(Protocol):
    def appended(self, session_id: str, last_sequence: int, *, imported: bool = False) -> None:
        """Messages were appended to the session, the newest at ``last_sequence``;
        ``imported`` when by ImportMessages (a history, not a conversation going on).
        Must return at once (it runs in the caller's request)."""


class AppendListeners:
    """Tells each of several listeners, in order."""

    def __init__(self, *listeners: AppendListener) -> None:
        self._listeners = listeners

    def appended(self, session_id: str, last_sequence: int, *, imported: bool = False) -> None:
        for listener in self._listeners:
            listener.appended(session_id, last_sequence, imported=imported)


class TenantListener:
    """Tells ``listener`` of appends to one tenant's sessions by their store keys: the
    followers and the summary worker serve every tenant and know sessions by key."""

    def __init__(self, listener: AppendListener, tenant: str) -> None:
        self._listener = listener
        self._tenant = tenant

    def appended(self, session_id: str, last_sequence: int, *, imported: bool = False) -> None:
        key = scoped_key(self._tenant, session_id)
        self._listener.appended(key, last_sequence, imported=imported)
