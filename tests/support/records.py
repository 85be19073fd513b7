"""Domain records for the storage contract tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from server.domain.models import JsonObject, Message, NewMessage, RoleType, Session, Summary, User

__all__ = ["NOW", "later", "new_message", "new_session", "new_user", "summary_of"]

NOW = datetime(2026, 11, 25, 12, 0, 0, 123456, tzinfo=UTC)


def new_message(
    content: str = "hello",
    *,
    role_type: RoleType = RoleType.USER,
    role: str = "Jane",
    message_uuid: str | None = None,
    metadata: JsonObject | None = None,
    token_count: int = 3,
) -> NewMessage:
    return NewMessage(
        uuid=message_uuid or str(uuid.uuid4()),
        role=role,
        role_type=role_type,
        content=content,
        metadata=metadata or {},
        token_count=token_count,
        created_at=NOW,
    )


def new_session(
    session_id: str,
    *,
    user_id: str | None = None,
    metadata: JsonObject | None = None,
    created_at: datetime = NOW,
) -> Session:
    return Session(session_id, user_id, metadata or {}, created_at, created_at)


def new_user(
    user_id: str,
    *,
    email: str = "",
    first_name: str = "",
    metadata: JsonObject | None = None,
    created_at: datetime = NOW,
) -> User:
    return User(user_id, email, first_name, "", metadata or {}, created_at, created_at)


def later(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


def summary_of(last: Message, version: int, content: str = "summary") -> Summary:
    """A summary covering every message up to ``last``."""
    return Summary(
        uuid=str(uuid.uuid4()),
        content=content,
        token_count=len(content.split()),
        last_message_uuid=last.uuid,
        last_message_sequence=last.sequence,
        created_at=NOW,
        version=version,
    )
