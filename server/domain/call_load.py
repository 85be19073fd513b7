"""How many calls this process is serving: the gRPC layer counts them, adapters
may serve a call that is alone differently from one among many."""

from __future__ import annotations

__all__ = ["CallLoad"]


class CallLoad:
    """Calls with one answer (unary and client-streaming) in progress; long-lived
    streams are not counted."""

    __slots__ = ("calls",)

    def __init__(self) -> None:
        self.calls = 0

    def alone(self) -> bool:
        """At most one call in progress: the caller's own."""
        return self.calls <= 1
