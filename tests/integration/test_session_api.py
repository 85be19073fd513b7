"""SessionService through the generated stubs, against a real server."""

from __future__ import annotations

import uuid

import grpc
import pytest
from google.protobuf import field_mask_pb2
from memoria.v1 import memory_service_pb2 as pb
from memoria.v1 import session_service_pb2 as spb

from bench.harness.requests import SEED_CONVERSATION, message, struct
from bench.harness.stubs import Stubs


def test_create_get_update_delete(stubs: Stubs, session_id: str) -> None:
    created = stubs.sessions.CreateSession(
        spb.CreateSessionRequest(session_id=session_id, user_id="jane", metadata=struct({"a": 1}))
    ).session
    assert (created.session_id, created.user_id, created.message_count) == (session_id, "jane", 0)
    assert created.created_at == created.updated_at
    assert (
        stubs.sessions.GetSession(spb.GetSessionRequest(session_id=session_id)).session == created
    )

    stubs.memory.AddMemory(pb.AddMemoryRequest(session_id=session_id, messages=SEED_CONVERSATION))
    counted = stubs.sessions.GetSession(spb.GetSessionRequest(session_id=session_id)).session
    assert counted.message_count == 3
    assert counted.token_count > 0
    assert counted.updated_at.ToDatetime() > created.updated_at.ToDatetime()

    updated = stubs.sessions.UpdateSession(
        spb.UpdateSessionRequest(
            session_id=session_id,
            user_id="other-user",
            metadata=struct({"b": 2}),
            update_mask=field_mask_pb2.FieldMask(paths=["metadata"]),
        )
    ).session
    assert updated.user_id == "jane"  # not in the mask: unchanged
    assert updated.metadata == struct({"b": 2})
    assert updated.message_count == 3

    stubs.sessions.DeleteSession(spb.DeleteSessionRequest(session_id=session_id))
    with pytest.raises(grpc.RpcError) as gone:
        stubs.memory.GetMemory(pb.GetMemoryRequest(session_id=session_id))
    assert gone.value.code() == grpc.StatusCode.NOT_FOUND
    # The id is free again at once.
    again = stubs.sessions.CreateSession(spb.CreateSessionRequest(session_id=session_id)).session
    assert again.message_count == 0
    [first] = stubs.memory.AddMemory(
        pb.AddMemoryRequest(session_id=session_id, messages=[message("new life")])
    ).messages
    assert first.sequence == 1


def test_add_memory_creates_session_implicitly(stubs: Stubs, session_id: str) -> None:
    stubs.memory.AddMemory(pb.AddMemoryRequest(session_id=session_id, messages=[message("hi")]))
    session = stubs.sessions.GetSession(spb.GetSessionRequest(session_id=session_id)).session
    assert (session.user_id, session.message_count, dict(session.metadata)) == ("", 1, {})


def test_list_sessions_of_a_user_in_pages(stubs: Stubs) -> None:
    user = f"user-{uuid.uuid4().hex}"
    ids = [f"{user}-s{n}" for n in range(5)]
    for session_id in ids:
        stubs.sessions.CreateSession(spb.CreateSessionRequest(session_id=session_id, user_id=user))
    stubs.sessions.CreateSession(spb.CreateSessionRequest(session_id=f"{user}-foreign"))
    listed: list[str] = []
    token = ""
    while True:
        page = stubs.sessions.ListSessions(
            spb.ListSessionsRequest(user_id=user, page_size=2, page_token=token)
        )
        assert len(page.sessions) <= 2
        listed += [s.session_id for s in page.sessions]
        token = page.next_page_token
        if not token:
            break
    assert listed == list(reversed(ids))  # newest first


def test_user_id_can_be_cleared(stubs: Stubs, session_id: str) -> None:
    stubs.sessions.CreateSession(spb.CreateSessionRequest(session_id=session_id, user_id="u1"))
    cleared = stubs.sessions.UpdateSession(
        spb.UpdateSessionRequest(
            session_id=session_id, update_mask=field_mask_pb2.FieldMask(paths=["user_id"])
        )
    ).session
    assert cleared.user_id == ""
