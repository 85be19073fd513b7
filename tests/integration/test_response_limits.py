"""No valid request produces a response that a gRPC client with default limits
(4 MiB received) cannot take: pages end early, memory says what it left out,
AddMemory echoes no contents unless asked, and reflection ignores request limits."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import descriptor_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from memoria.v1 import memory_service_pb2 as pb
from memoria.v1 import session_service_pb2 as spb

from bench.harness.requests import message, struct
from bench.harness.server_process import ServerProcess
from bench.harness.stubs import Stubs
from tests.support.errors import call_error, field_violations

MiB = 1024 * 1024
BIG = "x" * (MiB - 1024)  # just under the content limit
DEFAULT_CLIENT_LIMIT = 4 * MiB


@pytest.fixture(scope="module")
def big_session(stubs: Stubs) -> str:
    """A session of ten messages of about 1 MiB each."""
    session_id = "big-messages"
    for n in range(10):
        stubs.memory.AddMemory(
            pb.AddMemoryRequest(session_id=session_id, messages=[message(f"{n} {BIG}")])
        )
    return session_id


def test_add_memory_answers_briefly_by_default(stubs: Stubs, session_id: str) -> None:
    """A 5 MB batch is stored and answered with uuids, sequences and token counts."""
    batch = [message(f"{n} {BIG}") for n in range(5)]
    response = stubs.memory.AddMemory(pb.AddMemoryRequest(session_id=session_id, messages=batch))
    assert [m.sequence for m in response.messages] == [1, 2, 3, 4, 5]
    assert all(m.uuid and m.token_count > 0 and not m.content for m in response.messages)
    assert response.ByteSize() < 2048


def test_a_full_echo_too_big_is_refused_before_storing(stubs: Stubs, session_id: str) -> None:
    batch = [message(f"{n} {BIG}") for n in range(5)]
    error = call_error(
        lambda: stubs.memory.AddMemory(
            pb.AddMemoryRequest(session_id=session_id, messages=batch, view=pb.MESSAGE_VIEW_FULL)
        )
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "MESSAGE_VIEW_BASIC" in field_violations(error)["view"]
    missing = call_error(
        lambda: stubs.sessions.GetSession(spb.GetSessionRequest(session_id=session_id))
    )
    assert missing.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize("lastn", [0, 70])
def test_memory_returns_the_newest_that_fit_and_says_how_many_it_left_out(
    stubs: Stubs, big_session: str, lastn: int
) -> None:
    memory = stubs.memory.GetMemory(pb.GetMemoryRequest(session_id=big_session, lastn=lastn))
    assert memory.ByteSize() <= DEFAULT_CLIENT_LIMIT
    returned = [m.sequence for m in memory.messages]
    assert returned == list(range(11 - len(returned), 11)) and len(returned) >= 3
    assert memory.omitted_messages == 10 - len(returned)
    assert memory.token_count == sum(m.token_count for m in memory.messages)
    perpetual = stubs.memory.GetMemory(
        pb.GetMemoryRequest(session_id=big_session, memory_type=pb.MEMORY_TYPE_PERPETUAL)
    )
    assert perpetual.omitted_messages == 10 - len(perpetual.messages) > 0


def test_list_pages_end_early_by_size(stubs: Stubs, big_session: str) -> None:
    sequences: list[int] = []
    token = ""
    pages = 0
    while True:
        page = stubs.memory.ListMessages(
            pb.ListMessagesRequest(session_id=big_session, page_token=token)
        )
        assert page.ByteSize() <= DEFAULT_CLIENT_LIMIT
        sequences += [m.sequence for m in page.messages]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert sequences == list(range(1, 11))
    assert pages >= math.ceil(10 / 4)  # at most four 1 MiB messages fit 4 MiB


def test_session_pages_end_early_by_size(stubs: Stubs) -> None:
    owner = "metadata-heavy-owner"
    metadata = {"notes": "n" * 60_000}
    for n in range(40):
        stubs.sessions.CreateSession(
            spb.CreateSessionRequest(
                session_id=f"heavy-{n}", user_id=owner, metadata=struct(metadata)
            )
        )

    def pages() -> Iterator[spb.ListSessionsResponse]:
        token = ""
        while True:
            page = stubs.sessions.ListSessions(
                spb.ListSessionsRequest(user_id=owner, page_size=1000, page_token=token)
            )
            yield page
            if not (token := page.next_page_token):
                return

    listed = list(pages())
    assert len(listed) > 1
    assert sum(len(page.sessions) for page in listed) == 40
    assert all(page.ByteSize() <= DEFAULT_CLIENT_LIMIT for page in listed)


def test_a_small_request_limit_does_not_cap_responses_or_reflection(tmp_path: Path) -> None:
    """With requests capped at 2 KiB, reflection still describes the services and a
    30 KiB message can be read back."""
    store_url = f"sqlite:///{tmp_path / 'memoria.db'}"
    server = ServerProcess(store_url, tmp_path, {"MEMORIA_MAX_REQUEST_BYTES": "2048"}).start()
    stubs = Stubs.connect(server.address)
    try:
        for n in range(20):
            stubs.memory.AddMemory(
                pb.AddMemoryRequest(session_id="small", messages=[message(f"{n} " + "y" * 1500)])
            )
        memory = stubs.memory.GetMemory(pb.GetMemoryRequest(session_id="small", lastn=20))
        assert len(memory.messages) == 20 and memory.ByteSize() > 2048 * 10

        reflection = reflection_pb2_grpc.ServerReflectionStub(stubs.channel)
        request = reflection_pb2.ServerReflectionRequest(
            file_containing_symbol="memoria.v1.MemoryService"
        )
        [response] = reflection.ServerReflectionInfo(iter([request]))
        files = response.file_descriptor_response.file_descriptor_proto
        assert sum(map(len, files)) > 2048
        names = {descriptor_pb2.FileDescriptorProto.FromString(f).name for f in files}
        assert "memoria/v1/memory_service.proto" in names
    finally:
        stubs.close()
        server.stop()
    assert not any("ExecuteBatchError" in line for line in server.log)
