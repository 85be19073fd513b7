"""Conversions between MongoDB documents and domain records.

Layout of the collections (times are int64 microseconds since the epoch,
UTC: BSON dates keep only milliseconds, and records must read back exactly)::

    sessions        {_id: session_id, user_id, metadata, created_us, updated_us,
                     message_count, token_count, last_sequence, summarized_through,
                     terms_through, vectors_through, terms_counted, term_documents,
                     term_length}
    messages        {_id: ObjectId, session_id, sequence, uuid, role, role_type,
                     content, metadata, token_count, created_us}
    summaries       {_id: ObjectId, session_id, version, uuid, content, token_count,
                     last_message_uuid, last_message_sequence, created_us}
    summary_leases  {_id: ObjectId, session_id, term, owner, expires_us}
    users           {_id: user_id, email, first_name, last_name, metadata, created_us,
                     updated_us}

``summarized_through`` is a hint for the resume scan (see ``summaries``); a
session's summaries are one document per version, of which only the latest
keeps its ``content``.

Metadata is stored as a sub-document rather than as JSON text, so that it stays
readable in the shell and can be filtered on by queries (metadata filters of
SearchMemory). Clients may use any key, but MongoDB forbids NUL in keys and
FerretDB (like MongoDB before 5.0) rejects keys containing "." or starting with
"$"; such keys are stored percent-escaped (``escape_key``), which is reversible,
and ordinary keys are stored as they are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from bson import ObjectId

from server.domain.clock import from_micros, to_micros
from server.domain.errors import decodes
from server.domain.models import ROLE_TYPES, JsonObject, Message, Session, Summary, User
from server.domain.tenancy import tenant_of

__all__ = [
    "NO_TERMS",
    "Document",
    "escape_key",
    "message_document",
    "message_from_document",
    "messages_from_documents",
    "metadata_document",
    "metadata_from_document",
    "new_session_fields",
    "session_document",
    "session_from_document",
    "summary_document",
    "summary_from_document",
    "unescape_key",
    "user_document",
    "user_from_document",
]

Document = dict[str, Any]

# "%" itself is escaped so that unescaping is unambiguous.
_ESCAPES = {"%": "%25", ".": "%2E", "\x00": "%00"}
_UNESCAPES = {"%25": "%", "%2E": ".", "%00": "\x00", "%24": "$"}
_TO_ESCAPE = re.compile(r"[%.\x00]")
_TO_UNESCAPE = re.compile(r"%(?:25|2E|00|24)")


def escape_key(key: str) -> str:
    escaped = _TO_ESCAPE.sub(lambda found: _ESCAPES[found.group()], key)
    if escaped.startswith("$"):
        escaped = "%24" + escaped[1:]
    return escaped


def unescape_key(key: str) -> str:
    return _TO_UNESCAPE.sub(lambda found: _UNESCAPES[found.group()], key)


def _map_keys(value: Any, rename: Any) -> Any:
    if isinstance(value, dict):
        return {rename(key): _map_keys(item, rename) for key, item in value.items()}
    if isinstance(value, list):
        return [_map_keys(item, rename) for item in value]
    return value


def metadata_document(metadata: JsonObject) -> Document:
    document: Document = _map_keys(metadata, escape_key)
    return document


def metadata_from_document(document: Document) -> JsonObject:
    metadata: JsonObject = _map_keys(document, unescape_key)
    return metadata


# The term statistics of a session with no indexed message (see term_statistics).
NO_TERMS: Document = {"terms_counted": 0, "term_documents": 0, "term_length": 0}


def session_document(session: Session) -> Document:
    return {
        "_id": session.session_id,
        "tenant": tenant_of(session.session_id),
        "user_id": session.user_id,
        "metadata": metadata_document(session.metadata),
        "created_us": to_micros(session.created_at),
        "updated_us": to_micros(session.updated_at),
        "message_count": session.message_count,
        "token_count": session.token_count,
        "last_sequence": 0,
        **NO_TERMS,
    }


def new_session_fields(session_id: str, now_micros: int) -> Document:
    """The fields of a session that an append creates, except its counter."""
    return {
        "tenant": tenant_of(session_id),
        "user_id": None,
        "metadata": {},
        "created_us": now_micros,
        "updated_us": now_micros,
        "message_count": 0,
        "token_count": 0,
        **NO_TERMS,
    }


@decodes("session")
def session_from_document(document: Document) -> Session:
    return Session(
        session_id=document["_id"],
        # Absent means None: FerretDB v1 drops null values given to $setOnInsert.
        user_id=document.get("user_id"),
        metadata=metadata_from_document(document["metadata"]),
        created_at=from_micros(document["created_us"]),
        updated_at=from_micros(document["updated_us"]),
        message_count=document["message_count"],
        token_count=document["token_count"],
    )


def user_document(user: User) -> Document:
    return {
        "_id": user.user_id,
        "tenant": tenant_of(user.user_id),
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "metadata": metadata_document(user.metadata),
        "created_us": to_micros(user.created_at),
        "updated_us": to_micros(user.updated_at),
    }


@decodes("user")
def user_from_document(document: Document) -> User:
    return User(
        user_id=document["_id"],
        email=document["email"],
        first_name=document["first_name"],
        last_name=document["last_name"],
        metadata=metadata_from_document(document["metadata"]),
        created_at=from_micros(document["created_us"]),
        updated_at=from_micros(document["updated_us"]),
    )


def message_document(session_id: str, message: Message) -> Document:
    # The _id is chosen here, not by the driver, so that an append can remove
    # exactly the documents it inserted itself.
    return {
        "_id": ObjectId(),
        "session_id": session_id,
        "sequence": message.sequence,
        "uuid": message.uuid,
        "role": message.role,
        "role_type": message.role_type.value,
        "content": message.content,
        "metadata": metadata_document(message.metadata),
        "token_count": message.token_count,
        "created_us": to_micros(message.created_at),
    }


def _message(document: Document) -> Message:
    return Message(
        uuid=document["uuid"],
        sequence=document["sequence"],
        role=document["role"],
        role_type=ROLE_TYPES[document["role_type"]],
        content=document["content"],
        metadata=metadata_from_document(document["metadata"]),
        token_count=document["token_count"],
        created_at=from_micros(document["created_us"]),
    )


message_from_document = decodes("message")(_message)


@decodes("message")
def messages_from_documents(documents: Iterable[Document]) -> list[Message]:
    """Many documents under one guard: one wrapped call for a page, not one per document."""
    return [_message(document) for document in documents]


def summary_document(session_id: str, summary: Summary) -> Document:
    return {
        "_id": ObjectId(),
        "session_id": session_id,
        "version": summary.version,
        "uuid": summary.uuid,
        "content": summary.content,
        "token_count": summary.token_count,
        "last_message_uuid": summary.last_message_uuid,
        "last_message_sequence": summary.last_message_sequence,
        "created_us": to_micros(summary.created_at),
    }


@decodes("summary")
def summary_from_document(document: Document) -> Summary:
    return Summary(
        uuid=document["uuid"],
        content=document["content"],
        token_count=document["token_count"],
        last_message_uuid=document["last_message_uuid"],
        last_message_sequence=document["last_message_sequence"],
        created_at=from_micros(document["created_us"]),
        version=document["version"],
    )


def update_fields(changes: dict[str, Any], now_micros: int) -> Document:
    """The ``$set`` of an update: ``changes`` by field (metadata escaped) and the
    update time."""
    fields: Document = {**changes, "updated_us": now_micros}
    if "metadata" in fields:
        fields["metadata"] = metadata_document(fields["metadata"])
    return fields
