"""Requests no Python stub would send: undecodable bytes, invalid UTF-8, metadata
nested too deep, NaN and Infinity. Each gets INVALID_ARGUMENT with a plain
message, nothing is stored, and the log holds no traceback."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import field_mask_pb2, struct_pb2
from memoria.v1 import memory_service_pb2 as pb
from memoria.v1 import message_pb2
from memoria.v1 import session_service_pb2 as spb
from memoria.v1 import user_service_pb2 as upb

from bench.harness.requests import message, struct
from bench.harness.server_process import ServerProcess
from bench.harness.stubs import Stubs
from tests.support.errors import call_error, field_violations


def raw_call(stubs: Stubs, method: str, payload: bytes) -> grpc.RpcError:
    """Sends ``payload`` as the request of ``method`` without encoding anything."""
    call = stubs.channel.unary_unary(method, request_serializer=None, response_deserializer=None)
    return call_error(lambda: call(payload, timeout=10))


def nested(depth: int) -> dict[str, Any]:
    """A metadata object ``depth`` levels deep: {"a": {"a": ... {"a": 1}}}."""
    value: dict[str, Any] = {"a": 1}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def deep_struct_bytes(depth: int) -> bytes:
    """A serialized Struct ``depth`` levels deep, built by hand: the Python encoder
    refuses what the decoder would."""
    encoded = struct_pb2.Struct(fields={"a": struct_pb2.Value(number_value=1)}).SerializeToString()
    for _ in range(depth - 1):
        value = b"\x2a" + _length(encoded) + encoded  # Value.struct_value = 5
        entry = b"\x0a\x01a" + b"\x12" + _length(value) + value  # map entry: key 1, value 2
        encoded = b"\x0a" + _length(entry) + entry  # Struct.fields = 1
    return encoded


def _length(data: bytes) -> bytes:
    size, out = len(data), bytearray()
    while True:
        byte, size = size & 0x7F, size >> 7
        out.append(byte | (0x80 if size else 0))
        if not size:
            return bytes(out)


def assert_refused_plainly(error: grpc.RpcError, server: ServerProcess) -> None:
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert "is not a valid memoria.v1." in (error.details() or "")
    assert not any("Traceback" in line for line in server.settled_log())


@pytest.mark.parametrize(
    ("method", "payload"),
    [
        ("/memoria.v1.MemoryService/AddMemory", b"\xff\xff\xff\xff"),
        ("/memoria.v1.MemoryService/GetMemory", b"\x0a\x05s\xff\xfe\xfd1"),  # not UTF-8
        ("/memoria.v1.SessionService/CreateSession", b"\x0a\x02s1\x1a\x03\x0a"),  # truncated
    ],
)
def test_undecodable_requests_are_invalid_argument(
    stubs: Stubs, server: ServerProcess, method: str, payload: bytes
) -> None:
    assert_refused_plainly(raw_call(stubs, method, payload), server)


def test_metadata_nested_beyond_the_decoder_is_invalid_argument(
    stubs: Stubs, server: ServerProcess, session_id: str
) -> None:
    metadata = deep_struct_bytes(60)
    request = spb.CreateSessionRequest(session_id=session_id).SerializeToString()
    payload = request + b"\x1a" + _length(metadata) + metadata  # metadata = 3
    assert_refused_plainly(
        raw_call(stubs, "/memoria.v1.SessionService/CreateSession", payload), server
    )
    missing = call_error(
        lambda: stubs.sessions.GetSession(spb.GetSessionRequest(session_id=session_id))
    )
    assert missing.code() == grpc.StatusCode.NOT_FOUND


def test_an_undecodable_import_request_commits_what_came_before(
    stubs: Stubs, server: ServerProcess, session_id: str
) -> None:
    good = pb.ImportMessagesRequest(session_id=session_id, messages=[])
    batch = pb.ImportMessagesRequest(
        messages=[pb.ImportedMessage(role_type=USER, content=f"m{n}") for n in range(3)]
    )
    call = stubs.channel.stream_unary(
        "/memoria.v1.MemoryService/ImportMessages",
        request_serializer=None,
        response_deserializer=None,
    )
    requests = [good.SerializeToString(), batch.SerializeToString(), b"\xff\xff"]
    error = call_error(lambda: call(iter(requests), timeout=10))
    assert_refused_plainly(error, server)
    assert "request 2 of the stream" in (error.details() or "")
    listed = stubs.memory.ListMessages(pb.ListMessagesRequest(session_id=session_id))
    assert [m.content for m in listed.messages] == ["m0", "m1", "m2"]


def test_metadata_deeper_than_the_documented_limit_is_a_field_violation(
    stubs: Stubs, session_id: str
) -> None:
    error = call_error(
        lambda: stubs.memory.AddMemory(
            pb.AddMemoryRequest(session_id=session_id, messages=[message("x", metadata=nested(21))])
        )
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "more than the limit of 20" in field_violations(error)["messages[0].metadata"]
    added = stubs.memory.AddMemory(
        pb.AddMemoryRequest(session_id=session_id, messages=[message("x", metadata=nested(20))])
    )
    assert len(added.messages) == 1


NON_FINITE = [math.nan, math.inf, -math.inf]
USER = message_pb2.ROLE_TYPE_USER


def metadata_calls(
    stubs: Stubs, session_id: str
) -> Iterator[tuple[str, Callable[[Any], Any], str]]:
    """(name, call with the given metadata, the field the violation names) for every
    RPC that takes metadata."""
    mask = field_mask_pb2.FieldMask(paths=["metadata"])
    [stored] = stubs.memory.AddMemory(
        pb.AddMemoryRequest(session_id=session_id, messages=[message("keep me")])
    ).messages
    user_id = f"user-{session_id}"
    stubs.users.CreateUser(upb.CreateUserRequest(user_id=user_id))
    yield (
        "AddMemory",
        lambda m: stubs.memory.AddMemory(
            pb.AddMemoryRequest(session_id=session_id, messages=[message("x", metadata=m)])
        ),
        "messages[0].metadata",
    )
    yield (
        "CreateSession",
        lambda m: stubs.sessions.CreateSession(
            spb.CreateSessionRequest(session_id=f"{session_id}-new", metadata=struct(m))
        ),
        "metadata",
    )
    yield (
        "UpdateSession",
        lambda m: stubs.sessions.UpdateSession(
            spb.UpdateSessionRequest(session_id=session_id, metadata=struct(m), update_mask=mask)
        ),
        "metadata",
    )
    yield (
        "UpdateMessage",
        lambda m: stubs.memory.UpdateMessage(
            pb.UpdateMessageRequest(
                session_id=session_id, uuid=stored.uuid, metadata=struct(m), update_mask=mask
            )
        ),
        "metadata",
    )
    yield (
        "CreateUser",
        lambda m: stubs.users.CreateUser(
            upb.CreateUserRequest(user_id=f"{user_id}-new", metadata=struct(m))
        ),
        "metadata",
    )
    yield (
        "UpdateUser",
        lambda m: stubs.users.UpdateUser(
            upb.UpdateUserRequest(user_id=user_id, metadata=struct(m), update_mask=mask)
        ),
        "metadata",
    )
    yield (
        "ImportMessages",
        lambda m: stubs.memory.ImportMessages(
            iter(
                [
                    pb.ImportMessagesRequest(session_id=session_id),
                    pb.ImportMessagesRequest(
                        messages=[
                            pb.ImportedMessage(role_type=USER, content="y", metadata=struct(m))
                        ]
                    ),
                ]
            )
        ),
        "messages[0].metadata",
    )


@pytest.mark.parametrize("number", NON_FINITE, ids=["nan", "inf", "-inf"])
def test_non_finite_numbers_in_metadata_are_field_violations(
    stubs: Stubs, server: ServerProcess, session_id: str, number: float
) -> None:
    for name, call, field in metadata_calls(stubs, session_id):
        error = call_error(lambda call=call: call({"score": {"value": [1, number]}}))  # type: ignore[misc]
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (name, error.details())
        assert "NaN or Infinity" in field_violations(error)[field], name
    listed = stubs.memory.ListMessages(pb.ListMessagesRequest(session_id=session_id))
    assert [(m.content, dict(m.metadata)) for m in listed.messages] == [("keep me", {})]
    session = stubs.sessions.GetSession(spb.GetSessionRequest(session_id=session_id)).session
    assert dict(session.metadata) == {}
    assert not any("Traceback" in line for line in server.settled_log())
