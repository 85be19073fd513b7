"""The typed records that the client takes and returns: plain dataclasses, with Python
names and types (``role_type="user"``, ``datetime`` in UTC, ``dict`` metadata), never
protobuf messages.

Fields that the server computes (``uuid`` of a stored message, ``token_count``,
``created_at``, ``sequence``…) are ``None`` on a record the caller builds, and filled in
on the records the client returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

__all__ = [
    "ImportResult",
    "Memory",
    "MemoryType",
    "Message",
    "MetadataCondition",
    "RoleType",
    "SearchResult",
    "SearchResults",
    "SearchTarget",
    "SearchType",
    "Session",
    "Summary",
    "User",
]

RoleType = Literal["user", "assistant", "system", "tool", "function"]
"""Kind of speaker of a message (``memoria.v1.RoleType``)."""

MemoryType = Literal["perpetual", "message_window"]
"""Shape of the memory that ``get_memory`` returns (``memoria.v1.MemoryType``)."""

SearchType = Literal["keyword", "semantic", "hybrid"]
"""How ``search_memory`` ranks (``memoria.v1.SearchType``)."""

SearchTarget = Literal["messages", "summaries", "all"]
"""What ``search_memory`` searches (``memoria.v1.SearchTarget``)."""


@dataclass(kw_only=True)
class Message:
    """One turn of a conversation.

    ``role_type`` and ``content`` are required; ``role`` names the speaker in free text
    (e.g. ``"Jane"``); ``metadata`` is any JSON object whose top-level key ``"system"``
    belongs to the server. ``uuid`` may be set by the caller; when it is not, the client
    assigns a random one before sending, so that a retried call never stores the message
    twice. ``created_at`` is only read by ``import_messages`` (the original time of the
    message); ``token_count`` and ``sequence`` (the position in the session, from 1) are
    computed by the server.
    """

    role_type: RoleType
    content: str
    role: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    uuid: str | None = None
    created_at: datetime | None = None
    token_count: int | None = None
    sequence: int | None = None


@dataclass(kw_only=True)
class Summary:
    """The rolling summary of a session's older messages: every message up to
    ``last_message_sequence`` is folded into ``content``; ``version`` grows by one at each
    fold."""

    uuid: str
    content: str
    token_count: int
    last_message_uuid: str
    last_message_sequence: int
    created_at: datetime | None
    version: int


@dataclass
class Memory:
    """Messages of a session, oldest first. Built by the caller to add messages
    (``Memory(messages=[...])``); returned by ``get_memory`` with the rolling ``summary``
    of the messages before them (perpetual memory, once a summary exists) and
    ``token_count``, the tokens of the messages and the summary together."""

    messages: list[Message] = field(default_factory=list)
    summary: Summary | None = None
    token_count: int = 0


@dataclass(kw_only=True)
class Session:
    """A conversation: its owner (``user_id``, ``None`` when none), metadata, times, and
    the count of its stored messages and of their tokens."""

    session_id: str
    user_id: str | None
    metadata: dict[str, Any]
    created_at: datetime | None
    updated_at: datetime | None
    message_count: int
    token_count: int


@dataclass(kw_only=True)
class User:
    """The person or agent that sessions belong to. Names and e-mail are ``None`` when
    not set."""

    user_id: str
    email: str | None
    first_name: str | None
    last_name: str | None
    metadata: dict[str, Any]
    created_at: datetime | None
    updated_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class ImportResult:
    """What ``import_messages`` did: ``received`` messages, of which ``stored`` new ones
    and ``duplicates`` (uuid already stored, e.g. by an earlier attempt), and the highest
    sequence among them (0 when none)."""

    received: int
    stored: int
    duplicates: int
    last_sequence: int


@dataclass(frozen=True, kw_only=True)
class MetadataCondition:
    """One condition of ``search_memory``'s metadata filter, on a dotted ``path``
    (``"customer.tier"``). Set exactly one comparison: ``equals`` a string, number or
    boolean; ``any_of`` such values; ``exists`` (True or False); a number range with
    ``gt``/``gte``/``lt``/``lte``; or a time range over an RFC 3339 string with
    ``start`` (inclusive) and ``end`` (exclusive)."""

    path: str
    equals: str | float | bool | None = None
    any_of: list[str | float | bool] | None = None
    exists: bool | None = None
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class SearchResult:
    """One hit of ``search_memory``: a ``message`` or a session's ``summary`` (the
    other is ``None``), its session, its ``score`` (higher is better; compare within one
    search only) and, for keyword and hybrid search, the stemmed query terms it holds."""

    session_id: str
    score: float
    message: Message | None = None
    summary: Summary | None = None
    matched_terms: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class SearchResults:
    """The answer of ``search_memory``: ``results`` best first, the ``search_type`` the
    server used, ``truncated`` when the server stopped scanning early (or the response
    limit cut the results), and how many messages in scope were not indexed yet."""

    results: list[SearchResult]
    search_type: SearchType
    truncated: bool
    unindexed_messages: int
