"""StreamMessages: a session's history in order, in bounded batches, resumable."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from server.domain.errors import NotFound, Unavailable
from server.domain.follow import AppendSignals, wait_for
from server.domain.models import Message
from server.domain.validation import Violations
from server.storage.port import Store

__all__ = [
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
    store: Store, signals: AppendSignals, poll_interval: float, request: StreamRequest
) -> AsyncIterator[MessageBatch]:
    """Yields the session's messages after the cursor, oldest first.

    Reads through one ``Store.read_messages`` reader, at most one batch ahead of what
    the consumer has taken: the caller's pace (gRPC flow control) bounds the memory.
    With ``follow``, waits for new messages after the end, polling the store every
    ``poll_interval`` seconds and woken early by ``signals``; ends with ``Unavailable``
    when the server shuts down.
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
    reader = store.read_messages(session_id, after_sequence=after, batch_size=batch_size)
    try:
        with signals.subscribe(session_id) as wakeup:
            while True:
                wakeup.clear()
                messages = await reader.read(read_limit)
                if messages is None:
                    raise NotFound("session", session_id)
                caught_up = len(messages) < read_limit
                chunks = _chunks(messages)
                for number, chunk in enumerate(chunks, start=1):
                    after = chunk[-1].sequence
                    announced_caught_up = caught_up and number == len(chunks)
                    yield MessageBatch(chunk, after, announced_caught_up)
                read_limit = _next_read_limit(messages, read_limit, batch_size)
                if not caught_up:
                    continue
                if not request.follow:
                    return
                if not announced_caught_up:
                    announced_caught_up = True
                    yield MessageBatch([], after, caught_up=True)
                await wait_for(wakeup, poll_interval)
                if signals.closed:
                    raise Unavailable(
                        f"the server is shutting down; resume with after_sequence={after}"
                    )
    finally:
        await reader.close()


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
