"""StreamMessages: a session's history in order, in bounded batches, resumable."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from server.domain.errors import NotFound, Unavailable
from server.domain.follower_wakeups import AppendSignals, wait_for
from server.domain.incarnations import SessionIncarnation
from server.domain.models import Message
from server.domain.ports.store import MessageReader, Store
from server.domain.stream_batches import FIRST_READ, chunks, next_read_limit
from server.domain.stream_holes import DEFAULT_GAP_GRACE, Hole, first_hole
from server.domain.validation import Violations

__all__ = [
    "DEFAULT_STREAM_BATCH",
    "MAX_STREAM_BATCH",
    "MessageBatch",
    "StreamRequest",
    "stream_messages",
]

DEFAULT_STREAM_BATCH = 500
MAX_STREAM_BATCH = 1000


@dataclass(frozen=True, slots=True)
class StreamRequest:
    session_id: str
    after_sequence: int = 0
    after_uuid: str = ""
    batch_size: int = 0
    follow: bool = False
    resume_token: str = ""

    def checked(self) -> StreamRequest:
        """The request with its uuid in canonical form; INVALID_ARGUMENT if malformed."""
        check = Violations()
        check.identifier("session_id", self.session_id)
        if self.after_sequence < 0:
            check.add("after_sequence", f"must not be negative, got {self.after_sequence}")
        after_uuid = ""
        if self.after_uuid:
            after_uuid = check.uuid("after_uuid", self.after_uuid)
            if self.after_sequence:
                check.add("after_uuid", "give after_sequence or after_uuid, not both")
        if self.resume_token and (self.after_sequence or self.after_uuid):
            check.add("resume_token", "give one of after_sequence, after_uuid, resume_token")
        if not 0 <= self.batch_size <= MAX_STREAM_BATCH:
            check.add(
                "batch_size", f"must be between 0 and {MAX_STREAM_BATCH}, got {self.batch_size}"
            )
        check.raise_if_any()
        return StreamRequest(
            self.session_id,
            self.after_sequence,
            after_uuid,
            self.batch_size or DEFAULT_STREAM_BATCH,
            self.follow,
            self.resume_token,
        )


@dataclass(frozen=True, slots=True)
class MessageBatch:
    """The next messages of a stream. ``last_sequence`` is the resume cursor (the
    last message's sequence, or the position so far when there is none);
    ``caught_up`` says that nothing newer was stored when they were read."""

    messages: list[Message]
    last_sequence: int
    caught_up: bool
    resume_token: str


async def stream_messages(
    store: Store,
    signals: AppendSignals,
    poll_interval: float,
    request: StreamRequest,
    *,
    budget: int,
    wakeup_key: str = "",
    gap_grace: float = DEFAULT_GAP_GRACE,
) -> AsyncIterator[MessageBatch]:
    """Yields the session's messages after the cursor, oldest first.

    Each batch fits ``budget`` bytes. Reads through one ``Store.read_messages``
    reader, at most one batch ahead of what
    the consumer has taken: the caller's pace (gRPC flow control) bounds the memory.
    With ``follow``, waits for new messages after the end, polling the store every
    ``poll_interval`` seconds and woken early by ``signals`` (under ``wakeup_key``,
    the session's store key; its id by default); ends with ``Unavailable``
    when the server shuts down. A following stream stops before a hole in the newest
    sequences for up to ``gap_grace`` seconds, so that a message still being stored
    by another process is delivered in its place, not skipped.
    """
    request = request.checked()
    incarnation = await _incarnation(store, request.session_id)
    after = await _start_sequence(store, request, incarnation)
    stream = _Stream(
        store,
        signals,
        poll_interval,
        gap_grace,
        budget,
        request,
        after,
        incarnation,
        wakeup_key or request.session_id,
    )
    try:
        async for batch in stream.batches():
            yield batch
    finally:
        await stream.close()


async def _incarnation(store: Store, session_id: str) -> SessionIncarnation:
    session = await store.get_session(session_id)
    if session is None:
        raise NotFound("session", session_id)
    return SessionIncarnation.of(session)


async def _start_sequence(
    store: Store, request: StreamRequest, incarnation: SessionIncarnation
) -> int:
    """The sequence the stream starts after: given, from the resume token, or the one
    of ``after_uuid``."""
    if request.resume_token:
        return incarnation.position_of(request.resume_token, field="resume_token")
    if not request.after_uuid:
        return request.after_sequence
    start = await store.get_message(request.session_id, request.after_uuid)
    if start is not None:
        return start.sequence
    if await store.get_session(request.session_id) is None:
        raise NotFound("session", request.session_id)
    raise NotFound("message", request.after_uuid)


class _Stream:
    """The read loop of one stream: where it stands, and the hole it waits at."""

    def __init__(
        self,
        store: Store,
        signals: AppendSignals,
        poll_interval: float,
        gap_grace: float,
        budget: int,
        request: StreamRequest,
        after: int,
        incarnation: SessionIncarnation,
        wakeup_key: str,
    ) -> None:
        self._store = store
        self._signals = signals
        self._poll_interval = poll_interval
        self._gap_grace = gap_grace
        self._budget = budget
        self._request = request
        self._after = after
        self._delivered = False
        self._hole: Hole | None = None
        self._incarnation = incarnation
        self._wakeup_key = wakeup_key
        self._reader = self._open_reader()

    def _open_reader(self) -> MessageReader:
        return self._store.read_messages(
            self._request.session_id,
            after_sequence=self._after,
            batch_size=self._request.batch_size,
        )

    async def close(self) -> None:
        await self._reader.close()

    async def batches(self) -> AsyncIterator[MessageBatch]:
        request = self._request
        read_limit = min(request.batch_size, FIRST_READ)
        announced_caught_up = False
        with self._signals.subscribe(self._wakeup_key) as wakeup:
            while True:
                wakeup.clear()
                messages = await self._reader.read(read_limit)
                if messages is None:
                    # It existed when the stream began: deleted since.
                    raise self._incarnation.deleted()
                await self._check_incarnation()
                caught_up = len(messages) < read_limit
                holding = False
                if request.follow and caught_up:
                    messages, holding = self._before_hole(messages)
                batches = chunks(messages, self._budget)
                for number, batch in enumerate(batches, start=1):
                    self._after, self._delivered = batch[-1].sequence, True
                    announced_caught_up = caught_up and not holding and number == len(batches)
                    yield self._batch(batch, announced_caught_up)
                read_limit = next_read_limit(messages, read_limit, request.batch_size, self._budget)
                if holding:
                    # The reader has gone past the hole: read again from before it.
                    await self._reader.close()
                    self._reader = self._open_reader()
                    await self._wait(wakeup, min(self._poll_interval, self._gap_grace / 10))
                    continue
                if not caught_up:
                    continue
                if not announced_caught_up:
                    # The end met by a read that found nothing new: say so anyway, so
                    # that the last response of a finished stream always carries it.
                    announced_caught_up = True
                    yield self._batch([], caught_up=True)
                if not request.follow:
                    return
                await self._wait(wakeup, self._poll_interval)

    def _batch(self, messages: list[Message], caught_up: bool) -> MessageBatch:
        return MessageBatch(
            messages, self._after, caught_up, self._incarnation.token_at(self._after)
        )

    async def _check_incarnation(self) -> None:
        """Ends the stream when its session was deleted since it started, even if a
        session of the same id exists again: its messages are another history."""
        session = await self._store.get_session(self._request.session_id)
        if session is None or SessionIncarnation.of(session) != self._incarnation:
            raise self._incarnation.deleted()

    def _before_hole(self, messages: list[Message]) -> tuple[list[Message], bool]:
        """The messages before a hole that is still worth waiting at, and whether
        there is one. Before its first message the stream knows no position to be
        contiguous with: sequences skip what DeleteMemory removed."""
        after = self._after if self._delivered else None
        self._hole = first_hole(messages, after, self._hole)
        if self._hole is not None and self._hole.waited_less_than(self._gap_grace):
            return messages[: self._hole.index], True
        return messages, False

    async def _wait(self, wakeup: asyncio.Event, seconds: float) -> None:
        """Waits for a wake-up or the next poll; ends the stream when the server shuts down."""
        await wait_for(wakeup, seconds)
        if self._signals.closed:
            raise Unavailable(
                f"the server is shutting down; resume with after_sequence={self._after}"
            )
