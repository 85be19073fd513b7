"""Conversions between memoria.v1 protos and domain records."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from google.protobuf import json_format, struct_pb2, timestamp_pb2
from google.protobuf.descriptor import EnumDescriptor
from memoria.v1 import memory_service_pb2, message_pb2, session_pb2, user_pb2

from server.domain.clock import to_micros
from server.domain.inputs import MessageInput
from server.domain.models import JsonObject, Message, RoleType, Session, Summary, User
from server.domain.search.engine import SearchAnswer, SearchType
from server.domain.search.inputs import (
    ConditionInput,
    NumberBounds,
    SearchInput,
    TimeRangeInput,
)

__all__ = [
    "add_messages",
    "imported_message_input_from_proto",
    "memory_type_name",
    "message_input_from_proto",
    "message_to_proto",
    "metadata_from_proto",
    "search_answer_to_proto",
    "search_input_from_proto",
    "session_to_proto",
    "summary_to_proto",
    "user_to_proto",
]

_ROLE_TYPES = message_pb2.DESCRIPTOR.enum_types_by_name["RoleType"]
_MEMORY_TYPES = memory_service_pb2.DESCRIPTOR.enum_types_by_name["MemoryType"]
_SEARCH_TYPES = memory_service_pb2.DESCRIPTOR.enum_types_by_name["SearchType"]
_SEARCH_TARGETS = memory_service_pb2.DESCRIPTOR.enum_types_by_name["SearchTarget"]
_ROLE_TYPE_TO_PROTO = {
    role_type: message_pb2.RoleType.Value(f"ROLE_TYPE_{role_type.name}") for role_type in RoleType
}
_ROLE_TYPE_NAMES = {number: role_type.value for role_type, number in _ROLE_TYPE_TO_PROTO.items()}


def metadata_from_proto(metadata: struct_pb2.Struct) -> JsonObject:
    if not metadata.fields:  # the common case, and MessageToDict costs microseconds
        return {}
    try:
        return json_format.MessageToDict(metadata)
    except ValueError:
        # NaN or Infinity, which JSON cannot hold: hand them to the domain's checks,
        # which name the field, instead of failing here.
        return _struct_as_dict(metadata)


def _struct_as_dict(struct: struct_pb2.Struct) -> JsonObject:
    return {key: _value_as_python(value) for key, value in struct.fields.items()}


def _value_as_python(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        return _struct_as_dict(value.struct_value)
    if kind == "list_value":
        return [_value_as_python(item) for item in value.list_value.values]
    return None if kind in (None, "null_value") else getattr(value, kind)


def _enum_name(enum: EnumDescriptor, prefix: str, value: int) -> str:
    """The domain's name of a proto enum value: "" when unspecified, the number when unknown.

    ``ROLE_TYPE_USER`` becomes ``user``; the domain validates the name.
    """
    if value == 0:
        return ""
    known = enum.values_by_number.get(value)
    return known.name.removeprefix(prefix).lower() if known else str(value)


def message_input_from_proto(message: message_pb2.Message) -> MessageInput:
    return MessageInput(
        uuid=message.uuid,
        role=message.role,
        role_type=_enum_name(_ROLE_TYPES, "ROLE_TYPE_", message.role_type),
        content=message.content,
        metadata=metadata_from_proto(message.metadata),
    )


def imported_message_input_from_proto(message: memory_service_pb2.ImportedMessage) -> MessageInput:
    return MessageInput(
        uuid=message.uuid,
        role=message.role,
        role_type=_ROLE_TYPE_NAMES.get(message.role_type)
        or _enum_name(_ROLE_TYPES, "ROLE_TYPE_", message.role_type),
        content=message.content,
        metadata=metadata_from_proto(message.metadata),
        created_at=(message.created_at.seconds, message.created_at.nanos)
        if message.HasField("created_at")
        else None,
    )


def memory_type_name(value: int) -> str:
    return _enum_name(_MEMORY_TYPES, "MEMORY_TYPE_", value)


def _timestamp(moment: datetime) -> timestamp_pb2.Timestamp:
    proto = timestamp_pb2.Timestamp()
    _set_timestamp(proto, moment)
    return proto


def _struct(value: JsonObject) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    if value:  # most messages carry no metadata
        struct.update(value)
    return struct


def message_to_proto(message: Message) -> message_pb2.Message:
    return _built(message_pb2.Message, message, full=True)


def add_messages(into: Any, messages: Iterable[Message], *, full: bool = True) -> None:
    """Appends ``messages`` to the repeated field ``into`` of a response, built in
    place (a list of built messages would be copied into the response again);
    without ``full``, without content and metadata (``MESSAGE_VIEW_BASIC``)."""
    add = into.add
    for message in messages:
        _built(add, message, full=full)


def _built(
    make: Callable[..., message_pb2.Message], message: Message, *, full: bool
) -> message_pb2.Message:
    """``message`` as a proto made by ``make`` (the class, or a repeated field's
    ``add``). The scalars go to ``make`` at once, which costs about half as much as
    setting each field after: this is GetMemory's hottest loop."""
    proto = make(
        uuid=message.uuid,
        role=message.role,
        role_type=_ROLE_TYPE_TO_PROTO[message.role_type],
        token_count=message.token_count,
        sequence=message.sequence,
    )
    _set_timestamp(proto.created_at, message.created_at)
    if full:
        proto.content = message.content
        if message.metadata:
            proto.metadata.update(message.metadata)
        else:
            proto.metadata.SetInParent()  # an empty object, as clients have always seen it
    return proto


def _set_timestamp(proto: timestamp_pb2.Timestamp, moment: datetime) -> None:
    # Timestamp.FromDatetime goes through a time tuple: several times slower, and
    # this runs for every message a response or a stream carries.
    seconds, micros = divmod(to_micros(moment), 1_000_000)
    proto.seconds = seconds
    proto.nanos = micros * 1000


def summary_to_proto(summary: Summary) -> message_pb2.Summary:
    return message_pb2.Summary(
        uuid=summary.uuid,
        content=summary.content,
        token_count=summary.token_count,
        last_message_uuid=summary.last_message_uuid,
        last_message_sequence=summary.last_message_sequence,
        created_at=_timestamp(summary.created_at),
        version=summary.version,
    )


def session_to_proto(session: Session) -> session_pb2.Session:
    return session_pb2.Session(
        session_id=session.session_id,
        user_id=session.user_id or "",
        metadata=_struct(session.metadata),
        created_at=_timestamp(session.created_at),
        updated_at=_timestamp(session.updated_at),
        message_count=session.message_count,
        token_count=session.token_count,
    )


def user_to_proto(user: User) -> user_pb2.User:
    return user_pb2.User(
        user_id=user.user_id,
        email=user.email,
        first_name=user.first_name,
        last_name=user.last_name,
        metadata=_struct(user.metadata),
        created_at=_timestamp(user.created_at),
        updated_at=_timestamp(user.updated_at),
    )


def search_input_from_proto(request: memory_service_pb2.SearchMemoryRequest) -> SearchInput:
    return SearchInput(
        query=request.query,
        session_id=request.session_id,
        user_id=request.user_id,
        limit=request.limit,
        search_type=_enum_name(_SEARCH_TYPES, "SEARCH_TYPE_", request.search_type),
        target=_enum_name(_SEARCH_TARGETS, "SEARCH_TARGET_", request.target),
        role_types=[_enum_name(_ROLE_TYPES, "ROLE_TYPE_", r) for r in request.role_types],
        metadata=[_condition(c) for c in request.metadata.all_of]
        if request.HasField("metadata")
        else None,
        created_at=_time_range(request.created_at) if request.HasField("created_at") else None,
        mmr_lambda=request.mmr_lambda if request.HasField("mmr_lambda") else None,
    )


def _condition(condition: memory_service_pb2.MetadataCondition) -> ConditionInput:
    kind = condition.WhichOneof("comparison") or ""
    number = condition.number
    return ConditionInput(
        path=condition.path,
        kind=kind,
        value=_value_as_python(condition.equals),
        values=[_value_as_python(v) for v in condition.any_of.values],
        exists=condition.exists,
        number=NumberBounds(
            gt=number.gt if number.HasField("gt") else None,
            gte=number.gte if number.HasField("gte") else None,
            lt=number.lt if number.HasField("lt") else None,
            lte=number.lte if number.HasField("lte") else None,
        ),
        time=_time_range(condition.time),
    )


def _time_range(given: memory_service_pb2.TimeRange) -> TimeRangeInput:
    return TimeRangeInput(
        start=(given.start.seconds, given.start.nanos) if given.HasField("start") else None,
        end=(given.end.seconds, given.end.nanos) if given.HasField("end") else None,
    )


_SEARCH_TYPE_TO_PROTO = {
    search_type: memory_service_pb2.SearchType.Value(f"SEARCH_TYPE_{search_type.name}")
    for search_type in SearchType
}


def search_answer_to_proto(answer: SearchAnswer) -> memory_service_pb2.SearchMemoryResponse:
    return memory_service_pb2.SearchMemoryResponse(
        results=[
            memory_service_pb2.SearchResult(
                message=message_to_proto(hit.message) if hit.message else None,
                summary=summary_to_proto(hit.summary) if hit.summary else None,
                session_id=hit.session_id,
                score=hit.score,
                matched_terms=hit.matched_terms,
            )
            for hit in answer.hits
        ],
        search_type=_SEARCH_TYPE_TO_PROTO[answer.search_type],
        truncated=answer.truncated,
        unindexed_messages=answer.unindexed_messages,
    )
