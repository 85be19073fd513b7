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
    """Takes, renews and gives back one kind of session lease for this process.

    A lease given back may linger: it stays held for ``linger`` seconds (at most a
    third of its time), and is released only if not taken again meanwhile. A busy
    session is worked on every few appends; lingering spares the two writes of
    giving its lease back and taking it again each time. Meanwhile another process
    cannot take it, which only delays that process's work on the session.
    """

    def __init__(
        self,
        acquire: Acquire,
        release: Release,
        *,
        seconds: float,
        clock: Clock,
        linger: float = 0.0,
    ) -> None:
        self._acquire = acquire
        self._release = release
        self._seconds = seconds
        self._clock = clock
        self._linger = min(linger, seconds * _RENEW_AFTER)
        self.owner = f"memoria-{uuid.uuid4().hex[:12]}"
        # When each lease held was last written: a lease with most of its time left
        # is not written again, which spares a write per chunk of work.
        self._written: dict[str, datetime] = {}
        # Leases given back but still held, with the timers that release them, and
        # the releases that the timers started.
        self._lingering: dict[str, asyncio.TimerHandle] = {}
        self._releasing: dict[str, asyncio.Task[None]] = {}

    async def take(self, session_id: str) -> bool:
        """True while this process holds the session's lease (taken or renewed)."""
        timer = self._lingering.pop(session_id, None)
        if timer is not None:
            timer.cancel()
        releasing = self._releasing.get(session_id)
        if releasing is not None:  # taken after it is released, never before
            await asyncio.shield(releasing)
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
        """Releases the lease, after ``linger`` seconds unless taken again by then."""
        if self._linger > 0 and session_id in self._written:
            self._lingering[session_id] = asyncio.get_running_loop().call_later(
                self._linger, self._release_lingering, session_id
            )
            return
        await self._release_now(session_id)

    async def close(self) -> None:
        """Releases every lingering lease now, and waits for releases under way."""
        lingering = list(self._lingering)
        for session_id in lingering:
            self._lingering.pop(session_id).cancel()
        await asyncio.gather(*map(self._release_now, lingering), *self._releasing.values())

    def _release_lingering(self, session_id: str) -> None:
        del self._lingering[session_id]
        task = asyncio.create_task(self._release_now(session_id))
        self._releasing[session_id] = task
        task.add_done_callback(lambda done: self._released(session_id, done))

    def _released(self, session_id: str, task: asyncio.Task[None]) -> None:
        if self._releasing.get(session_id) is task:
            del self._releasing[session_id]

    async def _release_now(self, session_id: str) -> None:
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
