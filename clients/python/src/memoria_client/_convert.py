"""Between the public records (``models``) and the generated protobuf messages."""

from __future__ import annotations

import uuid as uuid_module
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, cast

from google.protobuf import struct_pb2, timestamp_pb2

from memoria_client._proto import memory_service_pb2 as memory_pb
from memoria_client._proto import message_pb2, session_pb2, user_pb2
from memoria_client.models import (
    ImportResult,
    Memory,
    MemoryType,
    Message,
    MetadataCondition,
    RoleType,
    SearchResult,
    SearchResults,
    SearchTarget,
    SearchType,
    Session,
    Summary,
    User,
)

ROLE_TYPES: dict[str, int] = {
    "user": message_pb2.ROLE_TYPE_USER,
    "assistant": message_pb2.ROLE_TYPE_ASSISTANT,
    "system": message_pb2.ROLE_TYPE_SYSTEM,
    "tool": message_pb2.ROLE_TYPE_TOOL,
    "function": message_pb2.ROLE_TYPE_FUNCTION,
}
_ROLE_NAMES = {number: name for name, number in ROLE_TYPES.items()}
MEMORY_TYPES: dict[str, int] = {
    "perpetual": memory_pb.MEMORY_TYPE_PERPETUAL,
    "message_window": memory_pb.MEMORY_TYPE_MESSAGE_WINDOW,
}
SEARCH_TYPES: dict[str, int] = {
    "keyword": memory_pb.SEARCH_TYPE_KEYWORD,
    "semantic": memory_pb.SEARCH_TYPE_SEMANTIC,
    "hybrid": memory_pb.SEARCH_TYPE_HYBRID,
}
_SEARCH_TYPE_NAMES = {number: name for name, number in SEARCH_TYPES.items()}
SEARCH_TARGETS: dict[str, int] = {
    "messages": memory_pb.SEARCH_TARGET_MESSAGES,
    "summaries": memory_pb.SEARCH_TARGET_SUMMARIES,
    "all": memory_pb.SEARCH_TARGET_ALL,
}
# Integers beyond this are not exact in a JSON number (a double), so they stay floats.
_EXACT_INTEGER = 2**53


def struct_of(metadata: Mapping[str, Any] | None) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    if metadata:
        struct.update(metadata)
    return struct


def dict_of(struct: struct_pb2.Struct) -> dict[str, Any]:
    """A Struct as plain Python values; JSON numbers that are whole come back as ``int``."""
    if not struct.fields:  # most messages: no metadata
        return {}
    return cast(dict[str, Any], _plain(struct))


def _plain(value: Any) -> Any:
    if isinstance(value, struct_pb2.Struct):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, struct_pb2.ListValue):
        return [_plain(item) for item in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < _EXACT_INTEGER:
        return int(value)
    return value


def time_of(timestamp: timestamp_pb2.Timestamp) -> datetime | None:
    if not timestamp.seconds and not timestamp.nanos:
        return None
    # What Timestamp.ToDatetime(tzinfo=UTC) gives, in a third of the time.
    moment = datetime.fromtimestamp(timestamp.seconds, UTC)
    return moment.replace(microsecond=timestamp.nanos // 1000)


def timestamp_of(moment: datetime | None) -> timestamp_pb2.Timestamp | None:
    if moment is None:
        return None
    timestamp = timestamp_pb2.Timestamp()
    timestamp.FromDatetime(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    return timestamp


def role_type_of(role_type: RoleType) -> int:
    return _number_of("role_type", role_type, ROLE_TYPES)


def memory_type_of(memory_type: MemoryType) -> int:
    return _number_of("memory_type", memory_type, MEMORY_TYPES)


def _number_of(argument: str, name: str, numbers: Mapping[str, int]) -> int:
    try:
        return numbers[name]
    except KeyError:
        raise ValueError(f"{argument} must be one of {', '.join(numbers)}, got {name!r}") from None


def with_uuid(message: Message) -> str:
    """The message's uuid, assigned now (and kept on the message) when it has none: the
    same message sent again is then recognized by the server and not stored twice."""
    if not message.uuid:
        message.uuid = str(uuid_module.uuid4())
    return message.uuid


def canonical_uuid(value: str) -> str:
    """The form the server stores a uuid in (lower case, hyphenated)."""
    try:
        return str(uuid_module.UUID(value))
    except ValueError:
        return value


def message_to_proto(message: Message) -> message_pb2.Message:
    return message_pb2.Message(**_input_fields(message))


def imported_to_proto(message: Message) -> memory_pb.ImportedMessage:
    return memory_pb.ImportedMessage(
        **_input_fields(message), created_at=timestamp_of(message.created_at)
    )


def _input_fields(message: Message) -> dict[str, Any]:
    """The fields of a message that the server reads, its uuid assigned if need be."""
    return {
        "uuid": with_uuid(message),
        "role": message.role or "",
        "role_type": role_type_of(message.role_type),
        "content": message.content,
        "metadata": struct_of(message.metadata),
    }


def message_of(proto: message_pb2.Message) -> Message:
    return Message(
        uuid=proto.uuid,
        role=proto.role or None,
        role_type=cast(RoleType, _ROLE_NAMES.get(proto.role_type, "user")),
        content=proto.content,
        metadata=dict_of(proto.metadata),
        token_count=proto.token_count,
        created_at=time_of(proto.created_at),
        sequence=proto.sequence,
    )


def summary_of(proto: message_pb2.Summary) -> Summary:
    return Summary(
        uuid=proto.uuid,
        content=proto.content,
        token_count=proto.token_count,
        last_message_uuid=proto.last_message_uuid,
        last_message_sequence=proto.last_message_sequence,
        created_at=time_of(proto.created_at),
        version=proto.version,
    )


def memory_of(proto: memory_pb.GetMemoryResponse) -> Memory:
    return Memory(
        messages=[message_of(m) for m in proto.messages],
        summary=summary_of(proto.summary) if proto.HasField("summary") else None,
        token_count=proto.token_count,
    )


def search_type_of(search_type: SearchType | None) -> int:
    return 0 if search_type is None else _number_of("search_type", search_type, SEARCH_TYPES)


def search_target_of(target: SearchTarget) -> int:
    return _number_of("target", target, SEARCH_TARGETS)


def metadata_filter_of(
    metadata: Mapping[str, Any] | list[MetadataCondition],
) -> memory_pb.MetadataFilter:
    """A mapping means "each path equals its value"; conditions say more."""
    if isinstance(metadata, Mapping):
        metadata = [MetadataCondition(path=path, equals=value) for path, value in metadata.items()]
    return memory_pb.MetadataFilter(all_of=[_condition_of(c) for c in metadata])


def _condition_of(condition: MetadataCondition) -> memory_pb.MetadataCondition:
    numbers = {"gt": condition.gt, "gte": condition.gte, "lt": condition.lt, "lte": condition.lte}
    comparisons: dict[str, Any] = {
        "equals": None if condition.equals is None else _value_of(condition.equals),
        "any_of": None
        if condition.any_of is None
        else memory_pb.ScalarList(values=[_value_of(v) for v in condition.any_of]),
        "exists": condition.exists,
        "number": memory_pb.NumberRange(**{k: v for k, v in numbers.items() if v is not None})
        if any(v is not None for v in numbers.values())
        else None,
        "time": memory_pb.TimeRange(
            start=timestamp_of(condition.start), end=timestamp_of(condition.end)
        )
        if condition.start is not None or condition.end is not None
        else None,
    }
    given = {name: value for name, value in comparisons.items() if value is not None}
    if len(given) != 1:
        raise ValueError(
            f"metadata condition on {condition.path!r} must set exactly one comparison"
            " (equals, any_of, exists, a number bound or a time bound)"
        )
    return memory_pb.MetadataCondition(path=condition.path, **given)


def _value_of(value: str | float | bool) -> struct_pb2.Value:
    if isinstance(value, bool):
        return struct_pb2.Value(bool_value=value)
    if isinstance(value, int | float):
        return struct_pb2.Value(number_value=value)
    return struct_pb2.Value(string_value=value)


def search_results_of(proto: memory_pb.SearchMemoryResponse) -> SearchResults:
    return SearchResults(
        results=[
            SearchResult(
                session_id=result.session_id,
                score=result.score,
                message=message_of(result.message) if result.HasField("message") else None,
                summary=summary_of(result.summary) if result.HasField("summary") else None,
                matched_terms=list(result.matched_terms),
            )
            for result in proto.results
        ],
        search_type=cast(SearchType, _SEARCH_TYPE_NAMES.get(proto.search_type, "keyword")),
        truncated=proto.truncated,
        unindexed_messages=proto.unindexed_messages,
    )


def session_of(proto: session_pb2.Session) -> Session:
    return Session(
        session_id=proto.session_id,
        user_id=proto.user_id or None,
        metadata=dict_of(proto.metadata),
        created_at=time_of(proto.created_at),
        updated_at=time_of(proto.updated_at),
        message_count=proto.message_count,
        token_count=proto.token_count,
    )


def user_of(proto: user_pb2.User) -> User:
    return User(
        user_id=proto.user_id,
        email=proto.email or None,
        first_name=proto.first_name or None,
        last_name=proto.last_name or None,
        metadata=dict_of(proto.metadata),
        created_at=time_of(proto.created_at),
        updated_at=time_of(proto.updated_at),
    )


def import_result_of(proto: memory_pb.ImportMessagesResponse) -> ImportResult:
    return ImportResult(
        received=proto.received,
        stored=proto.stored,
        duplicates=proto.duplicates,
        last_sequence=proto.last_sequence,
    )
