"""Unvalidated client input, as the transport layer hands it to the domain."""

from __future__ import annotations

from dataclasses import dataclass, field

from server.domain.models import JsonObject

__all__ = ["MessageInput"]


@dataclass(frozen=True, slots=True)
class MessageInput:
    """A message as sent by a client. ``uuid`` may be empty (the server assigns one);
    ``role_type`` is the role type's name (``"user"``, ...), empty when unset."""

    role_type: str
    content: str
    role: str = ""
    uuid: str = ""
    metadata: JsonObject = field(default_factory=dict)
