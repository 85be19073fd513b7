"""What this process is serving, as the gRPC layer reports it: adapters may serve a
call that is alone differently from one among many, and background work (search
indexing) waits for a pause in the calls."""

from __future__ import annotations

import math
import time

__all__ = ["CallLoad"]


class CallLoad:
    """Calls with one answer (unary and client-streaming) in progress, and when a
    stream last sent a response."""

    __slots__ = ("_streamed_at", "calls")

    def __init__(self) -> None:
        self.calls = 0
        self._streamed_at = -math.inf  # monotonic

    def alone(self) -> bool:
        """At most one call in progress: the caller's own."""
        return self.calls <= 1

    def streamed(self) -> None:
        """A stream sent a response now."""
        self._streamed_at = time.monotonic()

    def quiet_for(self, now: float) -> float:
        """Seconds without work for calls until ``now`` (monotonic): 0 while a call
        with one answer is in progress, else the time since a stream last sent a
        response (a stream that waits for new messages is quiet)."""
        return 0.0 if self.calls else now - self._streamed_at
