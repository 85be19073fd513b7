"""Accepting client messages: the one path from ``MessageInput`` to ``NewMessage``.

AddMemory and ImportMessages both check each message here, give it a uuid
when it has none, and count its tokens; they differ only in what a batch may
hold (AddMemory rejects a uuid repeated within a request, an import counts it
as a duplicate).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from server.domain.inputs import MessageInput
from server.domain.models import NewMessage, RoleType
from server.domain.ports.token_counter import TokenCounter
from server.domain.validation import Limits, Violations

__all__ = ["AcceptedMessage", "accept_message", "stamp_messages"]


@dataclass(frozen=True, slots=True)
class AcceptedMessage:
    """A valid message with its uuid, waiting for its token count."""

    input: MessageInput
    uuid: str
    role_type: RoleType
    created_at: datetime | None


def accept_message(
    check: Violations, path: str, message: MessageInput, limits: Limits
) -> AcceptedMessage | None:
    """Checks one message, adding its violations under ``path`` (``messages[3]``);
    assigns a random uuid when it has none. None when the message is rejected."""
    violations_before = len(check.found)
    role_type = check.message(path, message, limits)
    message_uuid = check.uuid(f"{path}.uuid", message.uuid) if message.uuid else str(uuid.uuid4())
    created_at = None
    if message.created_at is not None:
        created_at = check.timestamp(f"{path}.created_at", message.created_at)
    if role_type is None or len(check.found) > violations_before:
        return None
    return AcceptedMessage(message, message_uuid, role_type, created_at)


async def stamp_messages(
    accepted: Sequence[AcceptedMessage], tokens: TokenCounter, now: datetime
) -> list[NewMessage]:
    """The messages ready to append: token counts added, ``now`` as the time of
    those that bring none."""
    counts = await tokens.count([message.input.content for message in accepted])
    return [
        NewMessage(
            uuid=message.uuid,
            role=message.input.role,
            role_type=message.role_type,
            content=message.input.content,
            metadata=message.input.metadata,
            token_count=count,
            created_at=message.created_at or now,
        )
        for message, count in zip(accepted, counts, strict=True)
    ]
