"""Bad input gets the right status code and field details, and changes nothing stored."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest
from google.protobuf import field_mask_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from memoria.v1 import memory_service_pb2 as pb
from memoria.v1 import message_pb2
from memoria.v1 import session_service_pb2 as spb

from bench.harness.requests import SEED_CONVERSATION, message, struct
from bench.harness.stubs import Stubs
from tests.support.errors import call_error, field_violations

MiB = 1024 * 1024


def snapshot(stubs: Stubs, session_id: str) -> tuple[Any, ...]:
    """Everything observable about a session, to prove a rejected request changed nothing."""
    session = stubs.sessions.GetSession(spb.GetSessionRequest(session_id=session_id)).session
    listed = stubs.memory.ListMessages(
        pb.ListMessagesRequest(session_id=session_id, page_size=1000)
    ).messages
    return (session.message_count, session.token_count, session.metadata, list(listed))


@pytest.fixture
def stored_session(stubs: Stubs, session_id: str) -> str:
    stubs.memory.AddMemory(pb.AddMemoryRequest(session_id=session_id, messages=SEED_CONVERSATION))
    return session_id


BAD_ADD_REQUESTS = {
    "empty session id": ("", [message("x")], "session_id"),
    "over-long session id": ("s" * 257, [message("x")], "session_id"),
    "session id with a space": ("bad id", [message("x")], "session_id"),
    "session id with a slash": ("a/b", [message("x")], "session_id"),
    "no messages": (None, [], "messages"),
    "missing role_type": (
        None,
        [message("x", message_pb2.ROLE_TYPE_UNSPECIFIED)],
        "messages[0].role_type",
    ),
    "unknown role_type": (None, [message("x", 42)], "messages[0].role_type"),
    "content over 1 MiB": (None, [message("x"), message("y" * (MiB + 1))], "messages[1].content"),
    "metadata over 64 KiB": (
        None,
        [message("x", metadata={"blob": "z" * 70_000})],
        "messages[0].metadata",
    ),
    "reserved metadata key": (
        None,
        [message("x", metadata={"system": {"a": 1}})],
        "messages[0].metadata.system",
    ),
    "malformed uuid": (None, [message("x", uuid="not-a-uuid")], "messages[0].uuid"),
    "uuid repeated in batch": (
        None,
        [
            message("x", uuid="6f1c2b9e-2c0a-4b6e-9f1d-0f5e3c2a1b00"),
            message("y", uuid="6f1c2b9e-2c0a-4b6e-9f1d-0f5e3c2a1b00"),
        ],
        "messages[1].uuid",
    ),
    "over-long role": (None, [message("x", role="r" * 257)], "messages[0].role"),
}


@pytest.mark.parametrize("case", BAD_ADD_REQUESTS.keys())
def test_bad_add_memory_is_invalid_argument_and_changes_nothing(
    stubs: Stubs, stored_session: str, case: str
) -> None:
    session_id, messages, field = BAD_ADD_REQUESTS[case]
    before = snapshot(stubs, stored_session)
    # A valid message first: a rejected batch must not be stored in part.
    batch = [message("valid and first"), *messages] if messages else []
    if field.startswith("messages["):
        index = int(field[len("messages[")]) + 1
        field = f"messages[{index}]{field[field.index(']') + 1 :]}"
    error = call_error(
        lambda: stubs.memory.AddMemory(
            pb.AddMemoryRequest(
                session_id=stored_session if session_id is None else session_id,
                messages=batch,
            )
        )
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    violations = field_violations(error)
    assert field in violations, violations
    assert snapshot(stubs, stored_session) == before


def test_every_violation_of_a_request_is_reported(stubs: Stubs, session_id: str) -> None:
    error = call_error(
        lambda: stubs.memory.AddMemory(
            pb.AddMemoryRequest(
                session_id="bad id",
                messages=[message("x", 0), message("y", uuid="nope")],
            )
        )
    )
    assert set(field_violations(error)) == {
        "session_id",
        "messages[0].role_type",
        "messages[1].uuid",
    }


def test_too_many_messages_in_one_call(stubs: Stubs, session_id: str) -> None:
    error = call_error(
        lambda: stubs.memory.AddMemory(
            pb.AddMemoryRequest(session_id=session_id, messages=[message("m")] * 1001)
        )
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "messages" in field_violations(error)
    assert (
        call_error(
            lambda: stubs.sessions.GetSession(spb.GetSessionRequest(session_id=session_id))
        ).code()
        == grpc.StatusCode.NOT_FOUND
    )


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (pb.ListMessagesRequest(page_size=1001), "page_size"),
        (pb.ListMessagesRequest(page_size=-1), "page_size"),
        (pb.ListMessagesRequest(page_token="!!not base64!!"), "page_token"),
        (pb.ListMessagesRequest(page_token="e30"), "page_token"),  # "{}": no position
    ],
)
def test_bad_list_messages(
    stubs: Stubs, stored_session: str, request_: pb.ListMessagesRequest, field: str
) -> None:
    request_.session_id = stored_session
    error = call_error(lambda: stubs.memory.ListMessages(request_))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in field_violations(error)


def test_page_token_of_another_session_is_rejected(stubs: Stubs, stored_session: str) -> None:
    page = stubs.memory.ListMessages(pb.ListMessagesRequest(session_id=stored_session, page_size=1))
    assert page.next_page_token
    stubs.memory.AddMemory(
        pb.AddMemoryRequest(session_id=stored_session + "-other", messages=[message("x")])
    )
    error = call_error(
        lambda: stubs.memory.ListMessages(
            pb.ListMessagesRequest(
                session_id=stored_session + "-other", page_token=page.next_page_token
            )
        )
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "page_token" in field_violations(error)


def test_bad_list_sessions(stubs: Stubs) -> None:
    for request_, field in [
        (spb.ListSessionsRequest(page_size=5000), "page_size"),
        (spb.ListSessionsRequest(page_token="garbage"), "page_token"),
        (spb.ListSessionsRequest(user_id="bad user"), "user_id"),
    ]:
        error = call_error(lambda r=request_: stubs.sessions.ListSessions(r))  # type: ignore[misc]
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field in field_violations(error)


def test_bad_get_memory(stubs: Stubs, stored_session: str) -> None:
    for request_, field in [
        (pb.GetMemoryRequest(session_id=stored_session, lastn=-1), "lastn"),
        (pb.GetMemoryRequest(session_id=stored_session, lastn=1001), "lastn"),
        (pb.GetMemoryRequest(session_id=stored_session, memory_type=9), "memory_type"),  # type: ignore[arg-type]
        (pb.GetMemoryRequest(session_id=""), "session_id"),
    ]:
        error = call_error(lambda r=request_: stubs.memory.GetMemory(r))  # type: ignore[misc]
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field in field_violations(error)


def test_unknown_session_is_not_found(stubs: Stubs, session_id: str) -> None:
    calls: list[Callable[[], Any]] = [
        lambda: stubs.memory.GetMemory(pb.GetMemoryRequest(session_id=session_id)),
        lambda: stubs.memory.DeleteMemory(pb.DeleteMemoryRequest(session_id=session_id)),
        lambda: stubs.memory.ListMessages(pb.ListMessagesRequest(session_id=session_id)),
        lambda: stubs.sessions.GetSession(spb.GetSessionRequest(session_id=session_id)),
        lambda: stubs.sessions.DeleteSession(spb.DeleteSessionRequest(session_id=session_id)),
        lambda: stubs.sessions.UpdateSession(
            spb.UpdateSessionRequest(
                session_id=session_id,
                user_id="u",
                update_mask=field_mask_pb2.FieldMask(paths=["user_id"]),
            )
        ),
    ]
    for call in calls:
        error = call_error(call)
        assert error.code() == grpc.StatusCode.NOT_FOUND
        status = rpc_status.from_call(error)  # type: ignore[arg-type]
        assert status is not None
        info = error_details_pb2.ResourceInfo()
        assert status.details[0].Unpack(info)
        assert (info.resource_type, info.resource_name) == ("session", session_id)


def test_unknown_message_is_not_found(stubs: Stubs, stored_session: str) -> None:
    missing = "0b5d3c1e-0000-4000-8000-000000000000"
    error = call_error(
        lambda: stubs.memory.GetMessage(
            pb.GetMessageRequest(session_id=stored_session, uuid=missing)
        )
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND
    error = call_error(
        lambda: stubs.memory.GetMessage(pb.GetMessageRequest(session_id=stored_session, uuid="x"))
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "uuid" in field_violations(error)


def test_update_message_rejects_reserved_key_and_bad_mask(
    stubs: Stubs, stored_session: str
) -> None:
    first = stubs.memory.ListMessages(pb.ListMessagesRequest(session_id=stored_session)).messages[0]
    before = snapshot(stubs, stored_session)
    for metadata, paths, field in [
        ({"system": "mine"}, ["metadata"], "metadata.system"),
        ({"a": 1}, [], "update_mask"),
        ({"a": 1}, ["content"], "update_mask"),
    ]:
        error = call_error(
            lambda m=metadata, p=paths: stubs.memory.UpdateMessage(  # type: ignore[misc]
                pb.UpdateMessageRequest(
                    session_id=stored_session,
                    uuid=first.uuid,
                    metadata=struct(m),
                    update_mask=field_mask_pb2.FieldMask(paths=p),
                )
            )
        )
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field in field_violations(error)
    assert snapshot(stubs, stored_session) == before


def test_create_existing_session_is_already_exists(stubs: Stubs, stored_session: str) -> None:
    before = snapshot(stubs, stored_session)
    error = call_error(
        lambda: stubs.sessions.CreateSession(
            spb.CreateSessionRequest(session_id=stored_session, metadata=struct({"new": True}))
        )
    )
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    assert snapshot(stubs, stored_session) == before


def test_errors_leak_no_internals(stubs: Stubs) -> None:
    error = call_error(lambda: stubs.memory.GetMemory(pb.GetMemoryRequest(session_id="a b")))
    text = f"{error.details()} {error}"
    assert "Traceback" not in text
    assert "sqlite" not in text.lower()


@pytest.mark.parametrize("role_type", [message_pb2.ROLE_TYPE_UNSPECIFIED, 42])
def test_the_role_type_hint_gives_the_spellings_a_client_sends(
    stubs: Stubs, session_id: str, role_type: int
) -> None:
    """The hint names what protobuf JSON accepts (ROLE_TYPE_USER), not the stored names."""
    error = call_error(
        lambda: stubs.memory.AddMemory(
            pb.AddMemoryRequest(session_id=session_id, messages=[message("x", role_type)])
        )
    )
    hint = field_violations(error)["messages[0].role_type"]
    assert "ROLE_TYPE_USER, ROLE_TYPE_ASSISTANT, ROLE_TYPE_SYSTEM" in hint
    assert "or the numbers 1 to 5" in hint
