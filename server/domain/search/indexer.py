"""Search indexing in the background: analyzed terms, then embeddings, per session.

Like summary folding (``summary_worker``): writes never wait for it (appends
only wake it up), one task per session in this process, and a lease in the
store so that several processes never index the same session at once. Each
session has two marks, ``terms_through`` and ``vectors_through``: every message
up to a mark is indexed, and a mark only moves forward. Terms come first and
need nothing but CPU, so keyword search keeps up even while the embedder fails;
embeddings follow, and a failing embedder is retried with capped exponential
backoff, reported to health, while terms keep being indexed. Work left by a
process that died is found again at start-up (``start``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence

from server.domain.bounded_reads import read_span
from server.domain.call_load import CallLoad
from server.domain.clock import Clock, utc_now
from server.domain.models import Message
from server.domain.pacing import Pace
from server.domain.ports.embedder import Embedder, EmbedderError
from server.domain.ports.store import Store
from server.domain.search.analyzer import analyze
from server.domain.search.records import (
    IndexState,
    MessageTerms,
    MessageVector,
    index_lease_key,
)
from server.domain.search.vectors import quantize
from server.domain.session_leases import (
    HealthFlag,
    HealthReport,
    SessionLease,
    cancel_all,
    ignore_health,
    resume_sessions,
)
from server.domain.summary_worker import WorkerSettings, rest_after

__all__ = ["DEFAULT_BATCH", "DEFAULT_BATCH_BYTES", "DEFAULT_SETTINGS", "SearchIndexer"]

log = logging.getLogger("memoria.search")
# As summary folding's, resting less: analyzing terms is cheap.
DEFAULT_SETTINGS = WorkerSettings(duty_cycle=0.5)
# Texts per call of the embedder. Each embedder cuts a call into batches of its own
# (wordllama: 16 texts, bounding its working memory), so a call may be large; each
# costs a thread hand-off and a fixed overhead (~0.7 ms for wordllama).
EMBED_CHUNK = 256
# A step reads at most ``batch`` messages, and stops once their contents reach
# ``batch_bytes`` (``read_span``): chat messages are small, and a large count makes
# few steps (each step reads the session again: on FerretDB v1 one scan of the
# messages collection).
DEFAULT_BATCH = 5000
# A step taken while calls go on (after PATIENCE, not in a pause) is at most this
# large: an import or an export beside it would otherwise wait for thousands of
# messages to be analyzed, embedded and written.
BUSY_BATCH = 500
DEFAULT_BATCH_BYTES = 8 * 1024 * 1024


class SearchIndexer:
    def __init__(
        self,
        store: Store,
        embedder: Embedder | None,
        settings: WorkerSettings = DEFAULT_SETTINGS,
        *,
        batch: int = DEFAULT_BATCH,
        batch_bytes: int = DEFAULT_BATCH_BYTES,
        report_health: HealthReport = ignore_health,
        clock: Clock = utc_now,
        load: CallLoad | None = None,
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._load = load or CallLoad()
        self._settings = settings
        self._batch = batch  # messages analyzed, or embedded, per step
        self._batch_bytes = batch_bytes  # and bytes of their contents
        self._health = HealthFlag(report_health, self._log_recovery)
        self._lease = SessionLease(
            lambda session_id, *lease: store.acquire_summary_lease(
                index_lease_key(session_id), *lease
            ),
            lambda session_id, owner: store.release_summary_lease(
                index_lease_key(session_id), owner
            ),
            seconds=settings.lease_seconds,
            clock=clock,
            linger=settings.lease_linger,
        )
        self.owner = self._lease.owner
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._wakeups: dict[str, asyncio.Event] = {}
        self._slots = asyncio.Semaphore(settings.concurrency)
        # Sessions whose embeddings wait for a retry, and when it is due (monotonic).
        self._embedding_retry_at: dict[str, float] = {}
        self._resume_task: asyncio.Task[None] | None = None
        self._closed = False
        self._last_append = 0.0  # monotonic

    def _appended_at(self) -> float:
        return self._last_append

    def appended(self, session_id: str, last_sequence: int, *, imported: bool = False) -> None:
        """Messages were appended: index them in the background (always after calls)."""
        if self._closed:
            return
        self._last_append = time.monotonic()
        if session_id in self._tasks:
            self._wakeups[session_id].set()
            return
        self._wakeups[session_id] = asyncio.Event()
        self._tasks[session_id] = asyncio.create_task(
            self._index_session(session_id), name=f"index-{session_id}"
        )

    def start(self) -> None:
        """Resumes the indexing a previous process left unfinished, in the background."""
        self._resume_task = asyncio.create_task(self._resume(), name="index-resume")

    async def close(self) -> None:
        """Stops indexing; it resumes at the next start."""
        self._closed = True
        await cancel_all([*self._tasks.values(), *filter(None, [self._resume_task])])
        await self._lease.close()

    async def warm_up(self, *, within: float) -> None:
        """Embeds one text, so that a local model is loaded before the first write
        rather than during it (its memory is a fixed cost, not a write's). A failure
        is only logged: indexing retries later."""
        if self._embedder is None:
            return
        try:
            async with asyncio.timeout(within):
                await self._embedder.embed(["warm-up"])
        except (EmbedderError, TimeoutError) as exc:
            log.warning("embedder %s is not ready: %s", self._embedder.name, exc or "timeout")

    async def index_now(self, session_id: str) -> None:
        """Indexes the session until caught up, in the caller's task (for tests and
        tools); raises what the embedder raises."""
        await self._index_once(session_id, embed=True, patient=False)

    async def _resume(self) -> None:
        resumed = await resume_sessions(
            lambda after, limit: self._store.sessions_to_index(
                with_vectors=self._embedder is not None, after=after, limit=limit
            ),
            lambda session_id: self.appended(session_id, 0),
            self._tasks.values(),
            page_size=self._settings.resume_page,
            retry_seconds=self._settings.retry_max,
            what="index",
        )
        if resumed:
            log.info("resuming search indexing of %d session(s)", resumed)

    async def _index_session(self, session_id: str) -> None:
        delay = self._settings.retry_initial
        wakeup = self._wakeups[session_id]
        try:
            while True:
                wakeup.clear()
                retry_at = self._embedding_retry_at.get(session_id)
                embed = retry_at is None or time.monotonic() >= retry_at
                try:
                    finished = await self._index_once(session_id, embed=embed)
                except asyncio.CancelledError:
                    raise
                except EmbedderError as exc:
                    await self._embedder_failed(session_id, exc, delay)
                    delay = min(delay * 2, self._settings.retry_max)
                    continue
                except Exception as exc:
                    log.warning(
                        "indexing session %s failed, retrying in %.1fs: %s",
                        session_id,
                        delay,
                        exc or type(exc).__name__,
                    )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self._settings.retry_max)
                    continue
                if embed and session_id in self._embedding_retry_at:
                    self._embedding_retry_at.pop(session_id)
                    delay = self._settings.retry_initial
                    await self._embedder_works(session_id)
                pending_retry = self._embedding_retry_at.get(session_id)
                if finished and pending_retry is None and not wakeup.is_set():
                    return
                # Wait for new messages, the embedding retry, or the lease (another
                # process is indexing the session now).
                timeout = (
                    self._settings.lease_seconds / 2
                    if pending_retry is None
                    else max(0.0, pending_retry - time.monotonic())
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wakeup.wait(), timeout)
        finally:
            self._tasks.pop(session_id, None)
            self._wakeups.pop(session_id, None)
            if self._embedding_retry_at.pop(session_id, None) is not None:
                await self._embedder_works(session_id)  # e.g. stopped or deleted meanwhile

    async def _index_once(self, session_id: str, *, embed: bool, patient: bool = True) -> bool:
        """Indexes until caught up; False when another process holds the lease.
        ``patient``: let calls go first."""
        if not self._behind(await self._state(session_id), embed):
            return True
        async with self._slots:
            if not await self._lease.take(session_id):
                return False
            try:
                while self._behind(await self._state(session_id), embed):
                    # Calls go first, and background steps take turns (``CallLoad``).
                    step = self._load.background_step(self._appended_at, wait=patient)
                    async with step as paused:
                        # Beside calls (no pause came), small steps.
                        limit = self._batch if paused else min(self._batch, BUSY_BATCH)
                        if not await self._lease.take(session_id):
                            return False
                        started = time.monotonic()
                        # Read again: the mark may have moved while this step waited.
                        if state := await self._state(session_id):
                            await self._index_step(session_id, state, limit, embed)
                        busy = time.monotonic() - started
                    await asyncio.sleep(rest_after(busy, self._settings.duty_cycle))
            finally:
                await self._lease.give_back(session_id)
        return True

    def _behind(self, state: IndexState | None, embed: bool) -> bool:
        if state is None:
            return False
        if state.terms_through < state.last_sequence:
            return True
        return embed and self._embedder is not None and state.vectors_through < state.last_sequence

    async def _state(self, session_id: str) -> IndexState | None:
        states = await self._store.index_states([session_id])
        return states[0] if states else None

    async def _index_step(
        self, session_id: str, state: IndexState, limit: int, embed: bool
    ) -> None:
        """Indexes the next messages: terms, and their embeddings in the same step
        (one read) when both marks are level; else embeddings catch up with terms."""
        embed = embed and self._embedder is not None
        if state.terms_through < state.last_sequence:
            messages = await self._read(session_id, state.terms_through, state.last_sequence, limit)
            if messages is None:
                return
            terms = await _analyzed(messages)
            # No message left after the mark (deleted): the mark jumps to the end.
            through = messages[-1].sequence if messages else state.last_sequence
            await self._store.save_message_terms(session_id, terms, through)
            if embed and state.vectors_through == state.terms_through:
                await self._index_vectors(session_id, messages, through)
        elif embed:
            messages = await self._read(
                session_id, state.vectors_through, state.terms_through, limit
            )
            if messages is None:
                return
            messages = [m for m in messages if m.sequence <= state.terms_through]
            through = messages[-1].sequence if messages else state.terms_through
            await self._index_vectors(session_id, messages, through)

    async def _index_vectors(
        self, session_id: str, messages: Sequence[Message], through: int
    ) -> None:
        assert self._embedder is not None
        vectors: list[MessageVector] = []
        for start in range(0, len(messages), EMBED_CHUNK):
            chunk = messages[start : start + EMBED_CHUNK]
            embedded = quantize(await self._embedder.embed([m.content for m in chunk]))
            vectors += [
                MessageVector(m.sequence, m.uuid, vector, scale)
                for m, (vector, scale) in zip(chunk, embedded, strict=True)
            ]
        await self._store.save_message_vectors(session_id, vectors, through)

    async def _read(
        self, session_id: str, after: int, through: int, limit: int
    ) -> list[Message] | None:
        return await read_span(
            self._store,
            session_id,
            after=after,
            through=through,
            limit=limit,
            max_bytes=self._batch_bytes,
        )

    async def _embedder_failed(self, session_id: str, exc: EmbedderError, delay: float) -> None:
        name = self._embedder.name if self._embedder else "none"
        log.warning(
            "embedder %s failed on session %s, retrying in %.1fs (keyword indexing goes on): %s",
            name,
            session_id,
            delay,
            exc,
        )
        self._embedding_retry_at[session_id] = time.monotonic() + delay
        await self._health.set(False)

    async def _embedder_works(self, session_id: str) -> None:
        if not self._embedding_retry_at:
            await self._health.set(True)

    def _log_recovery(self) -> None:
        if self._embedder is not None:
            log.info("embedder %s works again", self._embedder.name)


async def _analyzed(messages: Sequence[Message]) -> list[MessageTerms]:
    """The terms of each message (~13 us for a 200-byte one), analyzed on the event
    loop a slice at a time (``Pace``): a step may hold thousands of messages."""
    terms: list[MessageTerms] = []
    pace = Pace()
    for message in messages:
        terms.append(MessageTerms(message.sequence, message.uuid, tuple(analyze(message.content))))
        await pace.step()
    return terms
