"""How a stream sizes its reads and batches, so that each response fits the
response budget and the server's memory stays bounded whatever the messages'
size."""

from __future__ import annotations

from server.domain.models import Message
from server.domain.response_budget import RESPONSE_OVERHEAD, message_bytes

__all__ = ["FIRST_READ", "chunks", "next_read_limit"]

# Slow start: the first read is small, later ones grow while the messages are
# small enough, so even a history of 1 MiB messages is read a few at a time.
FIRST_READ = 16


def chunks(messages: list[Message], budget: int) -> list[list[Message]]:
    """Splits a read into batches of at most ``budget`` bytes each (and at least one
    message each)."""
    found: list[list[Message]] = []
    start, size = 0, RESPONSE_OVERHEAD
    for index, message in enumerate(messages):
        message_size = message_bytes(message)
        if size + message_size > budget and index > start:
            found.append(messages[start:index])
            start, size = index, RESPONSE_OVERHEAD
        size += message_size
    if start < len(messages):
        found.append(messages[start:])
    return found


def next_read_limit(messages: list[Message], limit: int, batch_size: int, budget: int) -> int:
    """Doubles the read limit up to ``batch_size``, as far as messages of the size just
    read fit the budget."""
    if not messages:
        return limit
    average = sum(map(message_bytes, messages)) // len(messages)
    return max(1, min(batch_size, 2 * limit, budget // average))
