"""StreamMessages: a session's history in order, in bounded batches, resumable."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from server.domain.errors import NotFound, Unavailable
from server.domain.follower_wakeups import AppendSignals, wait_for
from server.domain.models import Message
from server.domain.ports.store import Store
from server.domain.validation import Violations

__all__ = [
    "DEFAULT_GAP_GRACE",
    "DEFAULT_STREAM_BATCH",
    "MAX_STREAM_BATCH",
    "STREAM_BATCH_BYTES",
    "MessageBatch",
    "StreamRequest",
    "stream_messages",
]

DEFAULT_STREAM_BATCH = 500
MAX_STREAM_BATCH = 1000
# Soft limit on the text of one batch: big messages make smaller batches, and the
# next store read asks for fewer, so the server's memory stays bounded whatever
# the messages' size.
STREAM_BATCH_BYTES = 4 * 1024 * 1024
# What a message costs beyond its content (uuid, role, timestamps, framing).
_MESSAGE_OVERHEAD_BYTES = 100
_FIRST_READ = 16
# How long a follower waits at a hole in the newest sequences before passing it.
# On MongoDB two server processes appending to one session reserve their blocks of
# sequences in one order and may insert them in the other: the later block can be
# visible a moment before the earlier one. A hole can also be for good (a block
# given back after a conflict), so the wait is bounded.
DEFAULT_GAP_GRACE = 2.0


@dataclass(frozen=True, slots=True)
class StreamRequest:
    session_id: str
    after_sequence: int = 0
    after_uuid: str = ""
    batch_size: int = 0
    follow: bool = False


@dataclass(frozen=True, slots=True)
class MessageBatch:
    """The next messages of a stream. ``last_sequence`` is the resume cursor (the
    last message's sequence, or the position so far when there is none);
    ``caught_up`` says that nothing newer was stored when they were read."""

    messages: list[Message]
    last_sequence: int
    caught_up: bool


async def stream_messages(
    store: Store,
    signals: AppendSignals,
    poll_interval: float,
    request: StreamRequest,
    *,
    gap_grace: float = DEFAULT_GAP_GRACE,
) -> AsyncIterator[MessageBatch]:
    """Yields the session's messages after the cursor, oldest first.

    Reads through one ``Store.read_messages`` reader, at most one batch ahead of what
    the consumer has taken: the caller's pace (gRPC flow control) bounds the memory.
    With ``follow``, waits for new messages after the end, polling the store every
    ``poll_interval`` seconds and woken early by ``signals``; ends with ``Unavailable``
    when the server shuts down. A following stream stops before a hole in the newest
    sequences for up to ``gap_grace`` seconds, so that a message still being stored
    by another process is delivered in its place, not skipped.
    """
    check = Violations()
    check.identifier("session_id", request.session_id)
    if request.after_sequence < 0:
        check.add("after_sequence", f"must not be negative, got {request.after_sequence}")
    after_uuid = ""
    if request.after_uuid:
        after_uuid = check.uuid("after_uuid", request.after_uuid)
        if request.after_sequence:
            check.add("after_uuid", "give after_sequence or after_uuid, not both")
    if not 0 <= request.batch_size <= MAX_STREAM_BATCH:
        check.add(
            "batch_size", f"must be between 0 and {MAX_STREAM_BATCH}, got {request.batch_size}"
        )
    check.raise_if_any()

    session_id = request.session_id
    after = request.after_sequence
    if after_uuid:
        start = await store.get_message(session_id, after_uuid)
        if start is None:
            if await store.get_session(session_id) is None:
                raise NotFound("session", session_id)
            raise NotFound("message", request.after_uuid)
        after = start.sequence

    batch_size = request.batch_size or DEFAULT_STREAM_BATCH
    # Slow start: the first read is small, later ones grow while the messages are
    # small enough, so even a history of 1 MiB messages is read a few at a time.
    read_limit = min(batch_size, _FIRST_READ)
    announced_caught_up = False
    hole: _Hole | None = None
    delivered = False
    reader = store.read_messages(session_id, after_sequence=after, batch_size=batch_size)
    try:
        with signals.subscribe(session_id) as wakeup:
            while True:
                wakeup.clear()
                messages = await reader.read(read_limit)
                if messages is None:
                    raise NotFound("session", session_id)
                caught_up = len(messages) < read_limit
                holding = False
                if request.follow and caught_up:
                    # Before its first message the stream knows no position to be
                    # contiguous with: sequences skip what DeleteMemory removed.
                    hole = _hole(messages, after if delivered else None, hole)
                    if hole is not None and time.monotonic() - hole.since < gap_grace:
                        messages, holding = messages[: hole.index], True
                chunks = _chunks(messages)
                for number, chunk in enumerate(chunks, start=1):
                    after, delivered = chunk[-1].sequence, True
                    announced_caught_up = caught_up and not holding and number == len(chunks)
                    yield MessageBatch(chunk, after, announced_caught_up)
                read_limit = _next_read_limit(messages, read_limit, batch_size)
                if holding:
                    # The reader has gone past the hole: read again from before it.
                    await reader.close()
                    reader = store.read_messages(
                        session_id, after_sequence=after, batch_size=batch_size
                    )
                    await _wait(signals, wakeup, min(poll_interval, gap_grace / 10), after)
                    continue
                if not caught_up:
                    continue
                if not request.follow:
                    return
                if not announced_caught_up:
                    announced_caught_up = True
                    yield MessageBatch([], after, caught_up=True)
                await _wait(signals, wakeup, poll_interval, after)
    finally:
        await reader.close()


async def _wait(signals: AppendSignals, wakeup: asyncio.Event, seconds: float, after: int) -> None:
    """Waits for a wake-up or the next poll; ends the stream when the server shuts down."""
    await wait_for(wakeup, seconds)
    if signals.closed:
        raise Unavailable(f"the server is shutting down; resume with after_sequence={after}")


@dataclass(frozen=True, slots=True)
class _Hole:
    """A missing sequence: ``index`` is the position in the read of the message
    after it, ``since`` when the stream first met it (``time.monotonic``)."""

    sequence: int
    index: int
    since: float


def _hole(messages: list[Message], after: int | None, known: _Hole | None) -> _Hole | None:
    """The first hole in the sequences of ``messages``, which follow ``after`` when
    it is given."""
    if not messages:
        return None
    expected = messages[0].sequence if after is None else after + 1
    for index, message in enumerate(messages):
        if message.sequence != expected:
            if known is not None and known.sequence == expected:
                return _Hole(expected, index, known.since)
            return _Hole(expected, index, time.monotonic())
        expected += 1
    return None


def _size(message: Message) -> int:
    return len(message.content) + _MESSAGE_OVERHEAD_BYTES


def _chunks(messages: list[Message]) -> list[list[Message]]:
    """Splits a read into batches of at most ``STREAM_BATCH_BYTES`` of text (and at
    least one message each)."""
    chunks: list[list[Message]] = []
    start, size = 0, 0
    for index, message in enumerate(messages):
        message_size = _size(message)
        if size + message_size > STREAM_BATCH_BYTES and index > start:
            chunks.append(messages[start:index])
            start, size = index, 0
        size += message_size
    if start < len(messages):
        chunks.append(messages[start:])
    return chunks


def _next_read_limit(messages: list[Message], limit: int, batch_size: int) -> int:
    """Doubles the read limit up to ``batch_size``, as far as messages of the size just
    read fit the byte budget."""
    if not messages:
        return limit
    average = sum(map(_size, messages)) // len(messages)
    return max(1, min(batch_size, 2 * limit, STREAM_BATCH_BYTES // average))
