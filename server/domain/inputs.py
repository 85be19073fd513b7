"""Unvalidated client input, as the transport layer hands it to the domain."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from server.domain.models import JsonObject

__all__ = ["ImportBatch", "MessageInput", "RawTimestamp"]

# A google.protobuf.Timestamp as the client sent it: (seconds, nanos) since the
# epoch, not yet checked to be in range.
RawTimestamp = tuple[int, int]


@dataclass(frozen=True, slots=True)
class MessageInput:
    """A message as sent by a client. ``uuid`` may be empty (the server assigns one);
    ``role_type`` is the role type's name (``"user"``, ...), empty when unset.
    ``created_at`` is the original time of an imported message (only imports read
    it; None means the time of storing)."""

    role_type: str
    content: str
    role: str = ""
    uuid: str = ""
    metadata: JsonObject = field(default_factory=dict)
    created_at: RawTimestamp | None = None


@dataclass(frozen=True, slots=True)
class ImportBatch:
    """One request of an import stream: the session it names ("" when it leaves it
    to the first request) and its messages."""

    session_id: str
    messages: Sequence[MessageInput]
