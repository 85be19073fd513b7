"""Records that cross the storage port: plain, immutable, typed."""

from __future__ import annotations

import enum
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Generic, TypeVar

__all__ = [
    "KEEP",
    "ROLE_TYPES",
    "AppendResult",
    "JsonObject",
    "Keep",
    "Memory",
    "MemoryType",
    "Message",
    "NewMessage",
    "Page",
    "RoleType",
    "Session",
    "SessionPatch",
    "Summary",
    "User",
    "UserPatch",
    "patch_changes",
]

JsonObject = dict[str, Any]
T = TypeVar("T")


class RoleType(enum.StrEnum):
    USER = "user"
    ASSISTANT = "assistant"
    SYSTEM = "system"
    TOOL = "tool"
    FUNCTION = "function"


# Role types by value: a dict look-up, several times faster than RoleType(value),
# for the paths that turn every stored message back into a record.
ROLE_TYPES: dict[str, RoleType] = {role_type.value: role_type for role_type in RoleType}


class MemoryType(enum.StrEnum):
    MESSAGE_WINDOW = "message_window"
    PERPETUAL = "perpetual"


class Keep(enum.Enum):
    """Marks a field that a patch leaves unchanged."""

    KEEP = enum.auto()


KEEP = Keep.KEEP


@dataclass(frozen=True, slots=True)
class Session:
    session_id: str
    user_id: str | None
    metadata: JsonObject
    created_at: datetime
    updated_at: datetime
    message_count: int = 0
    token_count: int = 0


@dataclass(frozen=True, slots=True)
class SessionPatch:
    """Fields of a session to change; ``KEEP`` leaves one as it is."""

    user_id: str | Keep | None = KEEP
    metadata: JsonObject | Keep = KEEP


@dataclass(frozen=True, slots=True)
class User:
    """A user; ``email``, ``first_name`` and ``last_name`` are "" when not given."""

    user_id: str
    email: str
    first_name: str
    last_name: str
    metadata: JsonObject
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class UserPatch:
    """Fields of a user to change; ``KEEP`` leaves one as it is."""

    email: str | Keep = KEEP
    first_name: str | Keep = KEEP
    last_name: str | Keep = KEEP
    metadata: JsonObject | Keep = KEEP


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A validated message, ready to be appended (its sequence is not known yet)."""

    uuid: str
    role: str
    role_type: RoleType
    content: str
    metadata: JsonObject
    token_count: int
    created_at: datetime

    def stored_at(self, sequence: int) -> Message:
        """The message as stored at ``sequence`` in its session."""
        return Message(
            uuid=self.uuid,
            sequence=sequence,
            role=self.role,
            role_type=self.role_type,
            content=self.content,
            metadata=self.metadata,
            token_count=self.token_count,
            created_at=self.created_at,
        )


@dataclass(frozen=True, slots=True)
class Message:
    """A stored message; ``sequence`` is its 1-based position in the session."""

    uuid: str
    sequence: int
    role: str
    role_type: RoleType
    content: str
    metadata: JsonObject
    token_count: int
    created_at: datetime

    @property
    def speaker(self) -> str:
        """Who said it: the free-text role when set, otherwise the role type."""
        return self.role or self.role_type.value


@dataclass(frozen=True, slots=True)
class AppendResult:
    """What an append did: ``messages`` as stored, in the order given (a message
    whose uuid was stored before is that earlier message); ``added`` of them were
    stored by this append, the others were already there."""

    messages: list[Message]
    added: int

    @property
    def duplicates(self) -> int:
        return len(self.messages) - self.added


@dataclass(frozen=True, slots=True)
class Summary:
    """The rolling summary of a session: it covers every message up to
    ``last_message_sequence``. ``version`` is 1 for a session's first summary and
    grows by one with each fold."""

    uuid: str
    content: str
    token_count: int
    last_message_uuid: str
    last_message_sequence: int
    created_at: datetime
    version: int


@dataclass(frozen=True, slots=True)
class Memory:
    """Prompt-ready memory: recent messages (oldest first), an optional summary and
    the total of their token counts."""

    messages: list[Message]
    summary: Summary | None
    token_count: int
    # Messages of the asked-for memory left out to keep the response under its
    # byte budget (the oldest of them); 0 when nothing was.
    omitted: int = 0


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_page_token: str


def patch_changes(patch: SessionPatch | UserPatch) -> dict[str, Any]:
    """The fields a patch changes, by name, with their new values (``KEEP`` ones left out)."""
    return {
        field.name: value
        for field in fields(patch)
        if (value := getattr(patch, field.name)) is not KEEP
    }
