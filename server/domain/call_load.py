"""What this process is serving, as the gRPC layer reports it: adapters may serve a
call that is alone differently from one among many, and background work (search
indexing, folding an imported history) waits for a pause in the calls, and takes
turns."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator, Callable

__all__ = ["ALONE_AFTER", "PATIENCE", "QUIET", "CallLoad"]

# Calls go first: background work waits until no append has come and no call has
# done anything for QUIET seconds, but never more than PATIENCE seconds. An import
# streams appends without pause, an export streams responses, and the work would
# slow them down; it catches up afterwards. Steady traffic still lets a step of it
# through every PATIENCE seconds.
QUIET = 0.2
PATIENCE = 5.0
# A call is alone when no other is in progress and none ended this recently. One
# call at a time, a client takes far longer than this to answer and ask again (here
# ~0.5 ms from one call's end to the next one's start); under load, calls follow
# each other within tens of microseconds.
ALONE_AFTER = 0.0002


class CallLoad:
    """Calls with one answer (unary and client-streaming) in progress, and when a
    stream last sent a response."""

    __slots__ = ("_ended_at", "_streamed_at", "background_turn", "calls")

    def __init__(self) -> None:
        self.calls = 0
        self._streamed_at = -math.inf  # monotonic
        self._ended_at = -math.inf  # monotonic
        # Background steps that wait for a pause run one at a time (each waits for the
        # pause before its turn, so that the waits overlap, and looks again once its
        # turn comes, within the same patience): an import of many
        # sessions would otherwise have a step of each run side by side, each holding
        # its batch in memory and each querying the store. On FerretDB v1, where a
        # query scans its whole collection, side-by-side scans each took as long as
        # all of them together, past the driver's socket timeout (100,000 messages
        # in 10 sessions: 8 scans of ~6 s each at once), and no step ever finished.
        self.background_turn = asyncio.Lock()

    def ended(self, now: float | None = None) -> None:
        """A call with one answer ended (now, or at monotonic ``now``)."""
        self.calls -= 1
        self._ended_at = time.monotonic() if now is None else now

    def alone(self, now: float | None = None) -> bool:
        """At most one call in progress (the caller's own), and none ended within the
        last ``ALONE_AFTER`` seconds (monotonic ``now``): calls arriving back to back
        are served one after the other when each finishes without waiting, so the
        count alone would call each of them alone."""
        now = time.monotonic() if now is None else now
        return self.calls <= 1 and now - self._ended_at > ALONE_AFTER

    def streamed(self) -> None:
        """A stream sent a response now."""
        self._streamed_at = time.monotonic()

    def quiet_for(self, now: float) -> float:
        """Seconds without work for calls until ``now`` (monotonic): 0 while a call
        with one answer is in progress, else the time since a stream last sent a
        response (a stream that waits for new messages is quiet)."""
        return 0.0 if self.calls else now - self._streamed_at

    async def pause(self, last_append: Callable[[], float], until: float) -> bool:
        """Returns once no append (``last_append()``, monotonic) and no call came for
        ``QUIET`` seconds (True), or at the monotonic time ``until`` (False: calls go
        on), at once if it has passed."""
        while True:
            now = time.monotonic()
            quiet = min(now - last_append(), self.quiet_for(now))
            if quiet >= QUIET:
                return True
            wait = min(QUIET - quiet, until - now)
            if wait <= 0:
                return False
            await asyncio.sleep(wait)

    @contextlib.asynccontextmanager
    async def background_step(
        self, last_append: Callable[[], float], *, wait: bool = True
    ) -> AsyncIterator[bool]:
        """Runs a background step in its turn, after a pause: waits for the pause (beside
        other steps' waits), then for the turn, and looks again within the same
        patience, so that a call arriving meanwhile goes first. Yields whether the
        calls paused. ``wait=False``: at once, without a turn, as if they had."""
        if not wait:
            yield True
            return
        until = time.monotonic() + PATIENCE
        await self.pause(last_append, until)
        async with self.background_turn:
            yield await self.pause(last_append, until)
