"""The rule every store follows when an append meets uuids it stores already.

A message whose uuid the session stores is not stored again: the stored one
takes its place in the result. The others get the next sequences, in the
order given. Each adapter finds the stored ones its own way, then applies this.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from server.domain.models import AppendResult, Message, NewMessage

__all__ = ["AppendMerge", "merge_append", "not_stored"]


@dataclass(frozen=True, slots=True)
class AppendMerge:
    """``result`` in the order given; ``new`` the messages to store, with their sequences."""

    result: list[Message]
    new: list[Message]

    def appended(self) -> AppendResult:
        return AppendResult(self.result, len(self.new))


def not_stored(messages: Sequence[NewMessage], stored: Mapping[str, Message]) -> int:
    """How many of ``messages`` need a sequence."""
    return sum(1 for message in messages if message.uuid not in stored)


def merge_append(
    messages: Sequence[NewMessage], stored: Mapping[str, Message], first_sequence: int
) -> AppendMerge:
    """Places ``messages`` after the session's last message: the ones in ``stored``
    (by uuid) as they are stored, the others at ``first_sequence`` onwards."""
    result: list[Message] = []
    new: list[Message] = []
    sequence = first_sequence
    for message in messages:
        placed = stored.get(message.uuid)
        if placed is None:
            placed = message.stored_at(sequence)
            sequence += 1
            new.append(placed)
        result.append(placed)
    return AppendMerge(result, new)
