"""Holes in the newest sequences, which a following stream waits at.

On MongoDB two server processes appending to one session reserve their blocks
of sequences in one order and may insert them in the other: the later block
can be visible a moment before the earlier one. A hole can also be for good (a
block given back after a conflict), so the wait is bounded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from server.domain.models import Message

__all__ = ["DEFAULT_GAP_GRACE", "Hole", "first_hole"]

# How long a follower waits at a hole in the newest sequences before passing it.
DEFAULT_GAP_GRACE = 2.0


@dataclass(frozen=True, slots=True)
class Hole:
    """A missing sequence: ``index`` is the position in the read of the message
    after it, ``since`` when the stream first met it (``time.monotonic``)."""

    sequence: int
    index: int
    since: float

    def waited_less_than(self, seconds: float) -> bool:
        return time.monotonic() - self.since < seconds


def first_hole(messages: list[Message], after: int | None, known: Hole | None) -> Hole | None:
    """The first hole in the sequences of ``messages``, which follow ``after`` when
    it is given; ``known`` is the hole met before, whose time it keeps."""
    if not messages:
        return None
    expected = messages[0].sequence if after is None else after + 1
    for index, message in enumerate(messages):
        if message.sequence != expected:
            if known is not None and known.sequence == expected:
                return Hole(expected, index, known.since)
            return Hole(expected, index, time.monotonic())
        expected += 1
    return None
