"""Perpetual memory in the background: folds sessions whose unsummarized
messages outgrow the window, without ever making a caller wait.

One task per session at most (in this process); across processes a lease in the
store lets one fold a session at a time, and the summary's compare-and-set keeps
the result linear even when a lease expires under a slow summarizer. A failing
summarizer is retried with capped exponential backoff; messages are never
touched, so nothing is lost or blocked while it fails. Work left unfinished by
a process that died is found again at start-up (``resume``).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass

from server.domain.call_load import CallLoad
from server.domain.clock import Clock, utc_now
from server.domain.ports.store import Store
from server.domain.ports.summarizer import SummarizerError
from server.domain.session_leases import (
    HealthFlag,
    HealthReport,
    SessionLease,
    cancel_all,
    ignore_health,
    resume_sessions,
)
from server.domain.summary_folding import Fold, FoldPlan, SummaryFolder

__all__ = ["HealthReport", "SummaryWorker", "WorkerSettings", "rest_after"]


log = logging.getLogger("memoria.summary")

# Sessions whose summary's coverage the worker remembers (a few MB at most).
_COVERED_ENTRIES = 65_536


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    lease_seconds: float = 60.0
    # A lease given back stays held this long (see ``SessionLease``): a session
    # appended to steadily is folded every few messages without two lease writes each.
    lease_linger: float = 1.0
    retry_initial: float = 1.0
    retry_max: float = 60.0
    concurrency: int = 4
    resume_page: int = 100
    # Least time between two folds of one session: appends that come faster are
    # folded together. A conversation appends every few seconds and is folded at
    # once; a session appended to hundreds of times a second is folded twice a
    # second, in larger chunks, instead of every few messages (each fold scores the
    # whole summary again, so many small ones cost far more than a few larger ones).
    fold_interval: float = 0.5
    # Largest fraction of the time one session's folding may be busy: it rests
    # between chunks so that a large backlog (an imported archive) does not take
    # the CPU from the RPCs. 1 folds without resting.
    duty_cycle: float = 0.25


def rest_after(busy_seconds: float, duty_cycle: float) -> float:
    """How long to rest after ``busy_seconds`` of work to stay within ``duty_cycle``."""
    return busy_seconds * (1 / duty_cycle - 1)


class SummaryWorker:
    def __init__(
        self,
        store: Store,
        folder: SummaryFolder,
        settings: WorkerSettings,
        *,
        window: int,
        report_health: HealthReport = ignore_health,
        clock: Clock = utc_now,
        load: CallLoad | None = None,
    ) -> None:
        self._store = store
        self._folder = folder
        self._load = load or CallLoad()
        self._settings = settings
        self._window = window
        self._health = HealthFlag(report_health, self._log_recovery)
        self._lease = SessionLease(
            store.acquire_summary_lease,
            store.release_summary_lease,
            seconds=settings.lease_seconds,
            clock=clock,
            linger=settings.lease_linger,
        )
        self.owner = self._lease.owner
        self._tasks: dict[str, asyncio.Task[None]] = {}
        # Per running task, the lowest and highest last sequences appended meanwhile.
        self._dirty: dict[str, tuple[int, int]] = {}
        self._failing: set[str] = set()
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._resume_task: asyncio.Task[None] | None = None
        self._closed = False
        # What each session's summary covered when this process last looked: spares
        # most appends a look at the store. Bounded; the oldest entries go first.
        self._covered: dict[str, int] = {}
        # When each of those sessions was last folded (monotonic), for fold_interval.
        self._folded_at: dict[str, float] = {}
        # Sessions folding an imported history: their chunks wait for a pause in the
        # calls (``CallLoad.pause``), as search indexing does. An import appends far
        # faster than a conversation, and folding beside it (and beside the export
        # that often follows) would slow it down; a conversation's folds never wait,
        # so that its perpetual memory keeps up with it.
        self._imported: set[str] = set()
        self._last_append = 0.0  # monotonic

    def _appended_at(self) -> float:
        return self._last_append

    def appended(self, session_id: str, last_sequence: int, *, imported: bool = False) -> None:
        """Messages were appended up to ``last_sequence``: fold in the background if needed."""
        if self._closed or last_sequence <= self._window:
            return  # a session with at most a window of messages never needs a fold
        self._last_append = time.monotonic()
        if not self._may_be_due(session_id, last_sequence, last_sequence):
            return
        if imported:
            self._imported.add(session_id)
        else:
            self._imported.discard(session_id)
        if session_id in self._tasks:
            # The running task looks again before it ends, if a fold may still be due.
            low, high = self._dirty.get(session_id, (last_sequence, last_sequence))
            self._dirty[session_id] = (min(low, last_sequence), max(high, last_sequence))
            return
        self._tasks[session_id] = asyncio.create_task(
            self._fold_session(session_id), name=f"summary-{session_id}"
        )

    def start(self) -> None:
        """Resumes the folds a previous process left unfinished, in the background."""
        self._resume_task = asyncio.create_task(self._resume(), name="summary-resume")

    async def close(self) -> None:
        """Stops every fold; unfinished ones resume at the next start."""
        self._closed = True
        await cancel_all([*self._tasks.values(), *filter(None, [self._resume_task])])
        await self._lease.close()

    async def _resume(self) -> None:
        resumed = await resume_sessions(
            lambda after, limit: self._store.sessions_to_summarize(
                min_unsummarized=self._window, after=after, limit=limit
            ),
            lambda session_id: self.appended(session_id, last_sequence=self._window + 1),
            self._tasks.values(),
            page_size=self._settings.resume_page,
            retry_seconds=self._settings.retry_max,
            what="summarize",
        )
        if resumed:
            log.info("resuming summarization of %d session(s)", resumed)

    async def _fold_session(self, session_id: str) -> None:
        delay = self._settings.retry_initial
        try:
            while True:
                folded_at = self._folded_at.get(session_id, -math.inf)
                await asyncio.sleep(folded_at + self._settings.fold_interval - time.monotonic())
                self._dirty.pop(session_id, None)
                try:
                    finished = await self._fold_once(session_id)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    await self._failed(session_id, exc, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self._settings.retry_max)
                    continue
                delay = self._settings.retry_initial
                if finished and not self._due_again(session_id):
                    return
                if not finished:  # another process holds the lease: look again later
                    await asyncio.sleep(self._settings.lease_seconds / 2)
        finally:
            self._tasks.pop(session_id, None)
            self._dirty.pop(session_id, None)
            self._imported.discard(session_id)
            if not self._closed:
                await self._succeeded(session_id)  # e.g. deleted while failing

    async def _fold_once(self, session_id: str) -> bool:
        """Folds until the session is caught up. False when another process holds
        the session's lease (it is folding it now)."""
        plan = await self._check(session_id)
        if plan is None:
            return True
        if not await self._lease.take(session_id):
            return False
        try:
            # A plan made before the lease was taken may be stale; then the save loses
            # its compare-and-set, and the session is looked at again.
            while plan is not None:
                imported = session_id in self._imported
                # An imported history's chunks wait for a pause in the calls and take
                # turns with other background steps (``CallLoad``).
                step = self._load.background_step(self._appended_at, wait=imported)
                async with step, self._slots:
                    if not await self._lease.take(session_id):  # renewed when due
                        return False
                    started = time.monotonic()
                    fold = await self._folder.fold_chunk(session_id, plan)
                    busy = time.monotonic() - started
                await self._succeeded(session_id)
                if fold is None:
                    log.info("summary of %s moved under us; starting over", session_id)
                    plan = await self._check(session_id)
                else:
                    saved = fold.summary
                    # Debug: a busy server folds hundreds of times a second.
                    log.debug(
                        "summary saved: session=%s version=%d through=%d tokens=%d owner=%s",
                        session_id,
                        saved.version,
                        saved.last_message_sequence,
                        saved.token_count,
                        self.owner,
                    )
                    plan = self._rest_of(session_id, fold)
                await asyncio.sleep(rest_after(busy, self._settings.duty_cycle))
        finally:
            await self._lease.give_back(session_id)
        return True

    async def _check(self, session_id: str) -> FoldPlan | None:
        covered, plan = await self._folder.check(session_id)
        self._remember(session_id, covered)
        return plan

    def _rest_of(self, session_id: str, fold: Fold) -> FoldPlan | None:
        """What is left of the plan once ``fold`` is saved, without asking the store.
        Appends made since the plan are looked at afterwards (``_due_again``)."""
        self._remember(session_id, fold.summary.last_message_sequence)
        self._folded_at[session_id] = time.monotonic()
        return fold.rest

    def _may_be_due(self, session_id: str, low: int, high: int) -> bool:
        """False when appends with last sequences ``low``..``high`` cannot make a fold
        due: all are at most a window after what the summary covered when last seen
        (another process may have folded further since, never less). Sequences at or
        below it mean the session was deleted and begun again."""
        covered = self._covered.get(session_id)
        return covered is None or not covered < low <= high <= covered + self._window

    def _due_again(self, session_id: str) -> bool:
        """Whether appends made while the session's task worked may make a fold due."""
        appended = self._dirty.get(session_id)
        return appended is not None and self._may_be_due(session_id, *appended)

    def _remember(self, session_id: str, covered: int) -> None:
        self._covered.pop(session_id, None)  # re-inserted last: the newest entry
        self._covered[session_id] = covered
        if len(self._covered) > _COVERED_ENTRIES:
            oldest = next(iter(self._covered))
            del self._covered[oldest]
            self._folded_at.pop(oldest, None)

    async def _failed(self, session_id: str, exc: Exception, delay: float) -> None:
        if isinstance(exc, SummarizerError):
            log.warning(
                "summarizer %s failed on session %s, retrying in %.1fs: %s",
                self._folder.summarizer_name,
                session_id,
                delay,
                exc,
            )
            self._failing.add(session_id)
            await self._health.set(False)
        else:
            log.warning(
                "summarizing session %s failed, retrying in %.1fs: %s",
                session_id,
                delay,
                exc or type(exc).__name__,
            )

    async def _succeeded(self, session_id: str) -> None:
        if session_id in self._failing:
            self._failing.discard(session_id)
            if not self._failing:
                await self._health.set(True)

    def _log_recovery(self) -> None:
        log.info("summarizer %s works again", self._folder.summarizer_name)
