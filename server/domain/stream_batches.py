"""How a stream sizes its reads and batches, so that memory stays bounded
whatever the messages' size."""

from __future__ import annotations

from server.domain.models import Message

__all__ = ["FIRST_READ", "STREAM_BATCH_BYTES", "chunks", "next_read_limit"]

# Soft limit on the text of one batch: big messages make smaller batches, and the
# next store read asks for fewer, so the server's memory stays bounded whatever
# the messages' size.
STREAM_BATCH_BYTES = 4 * 1024 * 1024
# What a message costs beyond its content (uuid, role, timestamps, framing).
_MESSAGE_OVERHEAD_BYTES = 100
# Slow start: the first read is small, later ones grow while the messages are
# small enough, so even a history of 1 MiB messages is read a few at a time.
FIRST_READ = 16


def _size(message: Message) -> int:
    return len(message.content) + _MESSAGE_OVERHEAD_BYTES


def chunks(messages: list[Message]) -> list[list[Message]]:
    """Splits a read into batches of at most ``STREAM_BATCH_BYTES`` of text (and at
    least one message each)."""
    found: list[list[Message]] = []
    start, size = 0, 0
    for index, message in enumerate(messages):
        message_size = _size(message)
        if size + message_size > STREAM_BATCH_BYTES and index > start:
            found.append(messages[start:index])
            start, size = index, 0
        size += message_size
    if start < len(messages):
        found.append(messages[start:])
    return found


def next_read_limit(messages: list[Message], limit: int, batch_size: int) -> int:
    """Doubles the read limit up to ``batch_size``, as far as messages of the size just
    read fit the byte budget."""
    if not messages:
        return limit
    average = sum(map(_size, messages)) // len(messages)
    return max(1, min(batch_size, 2 * limit, STREAM_BATCH_BYTES // average))
