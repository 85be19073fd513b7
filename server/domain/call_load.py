"""What this process is serving, as the gRPC layer reports it: adapters may serve a
call that is alone differently from one among many, and background work (search
indexing, folding an imported history) waits for a pause in the calls."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

__all__ = ["PATIENCE", "QUIET", "CallLoad"]

# Calls go first: background work waits until no append has come and no call has
# done anything for QUIET seconds, but never more than PATIENCE seconds. An import
# streams appends without pause, an export streams responses, and the work would
# slow them down; it catches up afterwards. Steady traffic still lets a step of it
# through every PATIENCE seconds.
QUIET = 0.2
PATIENCE = 5.0


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

    async def pause(self, last_append: Callable[[], float]) -> None:
        """Returns once no append (``last_append()``, monotonic) and no call came for
        ``QUIET`` seconds, or after ``PATIENCE``."""
        give_up = time.monotonic() + PATIENCE
        while True:
            now = time.monotonic()
            quiet = min(now - last_append(), self.quiet_for(now))
            wait = min(QUIET - quiet, give_up - now)
            if wait <= 0:
                return
            await asyncio.sleep(wait)
