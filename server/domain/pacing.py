"""Long pure-Python work on the event loop, run a slice at a time.

grpc.aio accepts the next call only between two turns of the event loop, so a
turn that runs for a millisecond holds up every call waiting to start. Work that
can take that long (folding a summary, analyzing messages for search) steps a
``Pace`` between items: it yields to the loop once ``SLICE_SECONDS`` have passed.
A thread would not help: pure Python holds the GIL for up to 5 ms at a time.
"""

from __future__ import annotations

import asyncio
import time

__all__ = ["SLICE_SECONDS", "Pace"]

SLICE_SECONDS = 0.0002


class Pace:
    """Yields to the event loop at a ``step`` once ``SLICE_SECONDS`` have passed since
    the last yield (or since it was made)."""

    __slots__ = ("_until",)

    def __init__(self) -> None:
        self._until = time.perf_counter() + SLICE_SECONDS

    async def step(self) -> None:
        if time.perf_counter() >= self._until:
            await asyncio.sleep(0)
            self._until = time.perf_counter() + SLICE_SECONDS
