"""What each call sends and how its answer is read, once for the sync and the asyncio
clients: plain call descriptions that the transports (``_transport``) execute."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Generic, TypedDict, TypeVar

from google.protobuf import field_mask_pb2

from memoria_client import _convert
from memoria_client._proto import memory_service_pb2 as memory_pb
from memoria_client._proto import session_service_pb2 as session_pb
from memoria_client._proto import user_service_pb2 as user_pb
from memoria_client.errors import FieldViolation, InvalidArgumentError
from memoria_client.models import (
    ImportResult,
    Memory,
    MemoryType,
    Message,
    MetadataCondition,
    RoleType,
    SearchResults,
    SearchTarget,
    SearchType,
    Session,
    User,
)

Out = TypeVar("Out")
Item = TypeVar("Item")

MEMORY = "memoria.v1.MemoryService"
SESSIONS = "memoria.v1.SessionService"
USERS = "memoria.v1.UserService"
IMPORT_INCOMPLETE = "IMPORT_INCOMPLETE"


class Unset(enum.Enum):
    """Type of ``UNSET``, the default of ``update`` arguments that are left unchanged."""

    UNSET = enum.auto()


UNSET = Unset.UNSET


@dataclass(frozen=True)
class Call(Generic[Out]):
    """One unary (or, with ``client_stream``, client-streaming) call. ``idempotent``
    calls may be sent again after UNAVAILABLE or DEADLINE_EXCEEDED."""

    service: str
    method: str
    request: Any
    parse: Callable[[Any], Out]
    idempotent: bool
    client_stream: bool = False


@dataclass(frozen=True)
class Pages(Generic[Item]):
    """A paginated list: ``request(page_token)`` and the items of a response."""

    service: str
    method: str
    request: Callable[[str], Any]
    items: Callable[[Any], list[Item]]

    def page(self, token: str) -> Call[Any]:
        return Call(self.service, self.method, self.request(token), _same, idempotent=True)


def _same(response: Any) -> Any:
    return response


def _none(_: Any) -> None:
    return None


def _mask(**fields: object) -> tuple[list[str], dict[str, Any]]:
    """The names of the fields given (not ``UNSET``) and their values."""
    given = {name: value for name, value in fields.items() if value is not UNSET}
    return sorted(given), given


# MemoryService


def add_memory(session_id: str, memory: Memory | Iterable[Message]) -> Call[list[Message]]:
    messages = memory.messages if isinstance(memory, Memory) else list(memory)
    sent = [_convert.message_to_proto(m) for m in messages]
    # The server answers without contents (MESSAGE_VIEW_BASIC), so that the answer
    # to a large batch stays small; they are the ones sent, found again by uuid.
    request = memory_pb.AddMemoryRequest(session_id=session_id, messages=sent)
    by_uuid = {_convert.canonical_uuid(m.uuid): m for m in sent}

    def stored(response: memory_pb.AddMemoryResponse) -> list[Message]:
        for message in response.messages:
            origin = by_uuid.get(message.uuid)
            if origin is not None:
                message.content = origin.content
                message.metadata.CopyFrom(origin.metadata)
        return [_convert.message_of(m) for m in response.messages]

    # Safe to send again: every message carries a uuid, so the server stores none twice.
    return Call(MEMORY, "AddMemory", request, stored, idempotent=True)


def get_memory(session_id: str, memory_type: MemoryType, lastn: int | None) -> Call[Memory]:
    request = memory_pb.GetMemoryRequest(
        session_id=session_id,
        memory_type=_convert.memory_type_of(memory_type),  # type: ignore[arg-type]
        lastn=lastn or 0,
    )
    return Call(MEMORY, "GetMemory", request, _convert.memory_of, idempotent=True)


class SearchOptions(TypedDict, total=False):
    """The optional arguments of ``search_memory`` (see ``memoria.v1.SearchMemoryRequest``)."""

    limit: int
    search_type: SearchType
    target: SearchTarget
    role_types: Iterable[RoleType]
    metadata: Mapping[str, Any] | list[MetadataCondition]
    created_after: datetime
    created_before: datetime
    mmr_lambda: float


def search_memory(
    query: str, session_id: str | None, user_id: str | None, options: SearchOptions
) -> Call[SearchResults]:
    request = memory_pb.SearchMemoryRequest(
        session_id=session_id or "",
        user_id=user_id or "",
        query=query,
        limit=options.get("limit", 0),
        search_type=_convert.search_type_of(options.get("search_type")),  # type: ignore[arg-type]
        target=_convert.search_target_of(options.get("target", "messages")),  # type: ignore[arg-type]
        role_types=[_convert.role_type_of(r) for r in options.get("role_types", ())],  # type: ignore[misc]
        mmr_lambda=options.get("mmr_lambda"),
    )
    if "metadata" in options:
        request.metadata.CopyFrom(_convert.metadata_filter_of(options["metadata"]))
    after, before = options.get("created_after"), options.get("created_before")
    if after is not None or before is not None:
        request.created_at.CopyFrom(
            memory_pb.TimeRange(
                start=_convert.timestamp_of(after), end=_convert.timestamp_of(before)
            )
        )
    return Call(MEMORY, "SearchMemory", request, _convert.search_results_of, idempotent=True)


def delete_memory(session_id: str) -> Call[None]:
    request = memory_pb.DeleteMemoryRequest(session_id=session_id)
    return Call(MEMORY, "DeleteMemory", request, _none, idempotent=True)


def list_messages(session_id: str, page_size: int) -> Pages[Message]:
    return Pages(
        MEMORY,
        "ListMessages",
        lambda token: memory_pb.ListMessagesRequest(
            session_id=session_id, page_size=page_size, page_token=token
        ),
        lambda r: [_convert.message_of(m) for m in r.messages],
    )


def get_message(session_id: str, uuid: str) -> Call[Message]:
    request = memory_pb.GetMessageRequest(session_id=session_id, uuid=uuid)
    return Call(MEMORY, "GetMessage", request, _parse_message, idempotent=True)


def update_message(session_id: str, uuid: str, metadata: Mapping[str, Any]) -> Call[Message]:
    request = memory_pb.UpdateMessageRequest(
        session_id=session_id,
        uuid=uuid,
        metadata=_convert.struct_of(metadata),
        update_mask=field_mask_pb2.FieldMask(paths=["metadata"]),
    )
    return Call(MEMORY, "UpdateMessage", request, _parse_message, idempotent=True)


def _parse_message(response: Any) -> Message:
    return _convert.message_of(response.message)


@dataclass
class StreamCursor:
    """Where a stream of messages stands: the next request resumes right after the last
    message handed to the caller, so a dropped stream continues without gap or repeat."""

    session_id: str
    after_sequence: int = 0
    after_uuid: str = ""
    batch_size: int = 0
    follow: bool = False
    caught_up: bool = False

    def request(self) -> memory_pb.StreamMessagesRequest:
        return memory_pb.StreamMessagesRequest(
            session_id=self.session_id,
            after_sequence=self.after_sequence,
            after_uuid=self.after_uuid,
            batch_size=self.batch_size,
            follow=self.follow,
        )

    def take(self, response: memory_pb.StreamMessagesResponse) -> Iterator[Message]:
        """The messages of ``response``, each counted as delivered when handed out."""
        self.after_uuid = ""  # from now on the position is a sequence
        for proto in response.messages:
            self.after_sequence = proto.sequence
            yield _convert.message_of(proto)
        self.after_sequence = max(self.after_sequence, response.last_sequence)
        self.caught_up = response.caught_up


def stream_cursor(
    session_id: str, after: int | str | None, follow: bool, batch_size: int
) -> StreamCursor:
    cursor = StreamCursor(session_id, batch_size=batch_size, follow=follow)
    if isinstance(after, str):
        cursor.after_uuid = after
    elif after is not None:
        cursor.after_sequence = after
    return cursor


STREAM_METHOD = "StreamMessages"

# Requests per ImportMessages call: a call is retried by sending it again whole, so the
# client holds one call's messages at a time, however long the history.
_REQUESTS_PER_CALL = 20


@dataclass
class ImportBatcher:
    """Cuts a history into ImportMessages calls of a bounded number of messages, each
    safe to send again (uuids), and adds their results up."""

    session_id: str
    batch_size: int
    pending: list[Message] = field(default_factory=list)
    offset: int = 0
    result: ImportResult = field(
        default_factory=lambda: ImportResult(received=0, stored=0, duplicates=0, last_sequence=0)
    )

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= 1000:
            raise ValueError(f"batch_size must be between 1 and 1000, got {self.batch_size}")

    def add(self, message: Message) -> Call[ImportResult] | None:
        """Takes the next message; returns a call to make when one is full."""
        self.pending.append(message)
        if len(self.pending) < self.batch_size * _REQUESTS_PER_CALL:
            return None
        return self.flush()

    def flush(self) -> Call[ImportResult] | None:
        if not self.pending and self.offset:
            return None
        messages, self.pending = self.pending, []
        requests = [
            memory_pb.ImportMessagesRequest(
                session_id=self.session_id,
                messages=[_convert.imported_to_proto(m) for m in messages[i : i + self.batch_size]],
            )
            for i in range(0, max(len(messages), 1), self.batch_size)
        ]
        return Call(
            MEMORY,
            "ImportMessages",
            requests,
            _convert.import_result_of,
            idempotent=True,
            client_stream=True,
        )

    def record(self, done: ImportResult) -> None:
        total = self.result
        self.offset += done.received
        self.result = replace(
            total,
            received=total.received + done.received,
            stored=total.stored + done.stored,
            duplicates=total.duplicates + done.duplicates,
            last_sequence=max(total.last_sequence, done.last_sequence),
        )

    def rebase(self, error: InvalidArgumentError) -> InvalidArgumentError:
        """An error of one call, with its positions counted from the start of the whole
        history (``messages[12]`` of the third call of 10000 is ``messages[20012]``)."""
        if error.reason != IMPORT_INCOMPLETE or not self.offset:
            return error
        metadata = dict(error.metadata)
        if "committed" in metadata:
            metadata["committed"] = str(int(metadata["committed"]) + self.offset)
        rebased = InvalidArgumentError(
            f"{error.message} (counting from messages[{self.offset}] of the history)",
            code=error.code,
            reason=error.reason,
            metadata=metadata,
        )
        rebased.field_violations = [
            FieldViolation(_shift(v.field, self.offset), v.description)
            for v in error.field_violations
        ]
        rebased.__cause__ = error.__cause__
        return rebased


def _shift(path: str, offset: int) -> str:
    if not path.startswith("messages["):
        return path
    index, rest = path[len("messages[") :].split("]", 1)
    return f"messages[{int(index) + offset}]{rest}"


# SessionService


def create_session(
    session_id: str, user_id: str | None, metadata: Mapping[str, Any] | None
) -> Call[Session]:
    request = session_pb.CreateSessionRequest(
        session_id=session_id, user_id=user_id or "", metadata=_convert.struct_of(metadata)
    )
    return Call(SESSIONS, "CreateSession", request, _parse_session, idempotent=False)


def get_session(session_id: str) -> Call[Session]:
    request = session_pb.GetSessionRequest(session_id=session_id)
    return Call(SESSIONS, "GetSession", request, _parse_session, idempotent=True)


def update_session(
    session_id: str,
    user_id: str | Unset | None,
    metadata: Mapping[str, Any] | Unset | None,
) -> Call[Session]:
    paths, given = _mask(user_id=user_id, metadata=metadata)
    request = session_pb.UpdateSessionRequest(
        session_id=session_id,
        user_id=given.get("user_id") or "",
        metadata=_convert.struct_of(given.get("metadata")),
        update_mask=field_mask_pb2.FieldMask(paths=paths),
    )
    return Call(SESSIONS, "UpdateSession", request, _parse_session, idempotent=True)


def delete_session(session_id: str) -> Call[None]:
    request = session_pb.DeleteSessionRequest(session_id=session_id)
    return Call(SESSIONS, "DeleteSession", request, _none, idempotent=False)


def list_sessions(user_id: str | None, page_size: int) -> Pages[Session]:
    return Pages(
        SESSIONS,
        "ListSessions",
        lambda token: session_pb.ListSessionsRequest(
            user_id=user_id or "", page_size=page_size, page_token=token
        ),
        _sessions,
    )


def _parse_session(response: Any) -> Session:
    return _convert.session_of(response.session)


def _sessions(response: Any) -> list[Session]:
    return [_convert.session_of(s) for s in response.sessions]


# UserService


def create_user(
    user_id: str,
    email: str | None,
    first_name: str | None,
    last_name: str | None,
    metadata: Mapping[str, Any] | None,
) -> Call[User]:
    request = user_pb.CreateUserRequest(
        user_id=user_id,
        email=email or "",
        first_name=first_name or "",
        last_name=last_name or "",
        metadata=_convert.struct_of(metadata),
    )
    return Call(USERS, "CreateUser", request, _parse_user, idempotent=False)


def get_user(user_id: str) -> Call[User]:
    return Call(USERS, "GetUser", user_pb.GetUserRequest(user_id=user_id), _parse_user, True)


def update_user(
    user_id: str,
    email: str | Unset | None,
    first_name: str | Unset | None,
    last_name: str | Unset | None,
    metadata: Mapping[str, Any] | Unset | None,
) -> Call[User]:
    paths, given = _mask(email=email, first_name=first_name, last_name=last_name, metadata=metadata)
    request = user_pb.UpdateUserRequest(
        user_id=user_id,
        email=given.get("email") or "",
        first_name=given.get("first_name") or "",
        last_name=given.get("last_name") or "",
        metadata=_convert.struct_of(given.get("metadata")),
        update_mask=field_mask_pb2.FieldMask(paths=paths),
    )
    return Call(USERS, "UpdateUser", request, _parse_user, idempotent=True)


def delete_user(user_id: str) -> Call[int]:
    request = user_pb.DeleteUserRequest(user_id=user_id)
    return Call(USERS, "DeleteUser", request, lambda r: int(r.deleted_sessions), False)


def list_users(page_size: int) -> Pages[User]:
    return Pages(
        USERS,
        "ListUsers",
        lambda token: user_pb.ListUsersRequest(page_size=page_size, page_token=token),
        lambda r: [_convert.user_of(u) for u in r.users],
    )


def list_user_sessions(user_id: str, page_size: int) -> Pages[Session]:
    return Pages(
        USERS,
        "ListUserSessions",
        lambda token: user_pb.ListUserSessionsRequest(
            user_id=user_id, page_size=page_size, page_token=token
        ),
        _sessions,
    )


def _parse_user(response: Any) -> User:
    return _convert.user_of(response.user)
