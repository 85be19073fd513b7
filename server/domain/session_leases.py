"""What the background workers (summary folding, search indexing) share: a lease
per session in the store, so that one process at a time works on a session, and
a health flag reported when it changes."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Collection
from datetime import datetime, timedelta

from server.domain.clock import Clock

__all__ = [
    "HealthFlag",
    "HealthReport",
    "SessionLease",
    "cancel_all",
    "ignore_health",
    "resume_sessions",
]

log = logging.getLogger("memoria")

# A lease is written again once this share of its time has gone by.
_RENEW_AFTER = 1 / 3

# Called with True when a worker's dependency works (again), False when it fails.
HealthReport = Callable[[bool], Awaitable[None]]
Acquire = Callable[[str, str, datetime, datetime], Awaitable[bool]]
Release = Callable[[str, str], Awaitable[None]]
# A page of the ids of sessions with work left: (after, limit) -> ids, ascending.
ListPage = Callable[[str | None, int], Awaitable[list[str]]]


async def ignore_health(_: bool) -> None:
    return None


class SessionLease:
    """Takes, renews and gives back one kind of session lease for this process."""

    def __init__(self, acquire: Acquire, release: Release, *, seconds: float, clock: Clock) -> None:
        self._acquire = acquire
        self._release = release
        self._seconds = seconds
        self._clock = clock
        self.owner = f"memoria-{uuid.uuid4().hex[:12]}"
        # When each lease held was last written: a lease with most of its time left
        # is not written again, which spares a write per chunk of work.
        self._written: dict[str, datetime] = {}

    async def take(self, session_id: str) -> bool:
        """True while this process holds the session's lease (taken or renewed)."""
        now = self._clock()
        written = self._written.get(session_id)
        if written is not None and now - written < timedelta(seconds=self._seconds * _RENEW_AFTER):
            return True
        held = await self._acquire(
            session_id, self.owner, now, now + timedelta(seconds=self._seconds)
        )
        if held:
            self._written[session_id] = now
        else:
            self._written.pop(session_id, None)
        return held

    async def give_back(self, session_id: str) -> None:
        self._written.pop(session_id, None)
        try:
            await asyncio.shield(self._release(session_id, self.owner))
        except Exception as exc:  # the lease expires on its own
            log.debug("could not release a lease of %s: %s", session_id, exc)


class HealthFlag:
    """A component's health, reported only when it changes."""

    def __init__(self, report: HealthReport, recovered: Callable[[], None]) -> None:
        self._report = report
        self._recovered = recovered
        self.healthy = True

    async def set(self, healthy: bool) -> None:
        if healthy == self.healthy:
            return
        self.healthy = healthy
        if healthy:
            self._recovered()
        await self._report(healthy)


async def resume_sessions(
    list_page: ListPage,
    schedule: Callable[[str], None],
    running: Collection[asyncio.Task[None]],
    *,
    page_size: int,
    retry_seconds: float,
    what: str,
) -> int:
    """Schedules every session ``list_page`` lists, a page at a time, keeping fewer
    than ``page_size`` tasks ``running``; the number scheduled."""
    after: str | None = None
    resumed = 0
    while True:
        while len(running) >= page_size:
            await asyncio.wait(list(running), return_when=asyncio.FIRST_COMPLETED)
        try:
            page = await list_page(after, page_size)
        except Exception as exc:
            log.warning("cannot list sessions to %s, retrying: %s", what, exc)
            await asyncio.sleep(retry_seconds)
            continue
        for session_id in page:
            schedule(session_id)
        resumed += len(page)
        if len(page) < page_size:
            return resumed
        after = page[-1]


async def cancel_all(tasks: Collection[asyncio.Task[None]]) -> None:
    """Cancels the tasks and waits for them to end."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
