"""StreamMessages and ImportMessages through the generated stubs, against a real server."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import timestamp_pb2
from memoria.v1 import memory_service_pb2 as pb
from memoria.v1 import message_pb2
from memoria.v1 import session_service_pb2 as session_pb

from bench.harness.requests import message
from bench.harness.server_process import ServerProcess
from bench.harness.stubs import Stubs
from tests.support.errors import call_error, error_info, field_violations
from tests.support.stores import StoreUrls
from tests.support.streams import Follower, history, import_requests, stream_all

# Storage behaviour through the server: on every store kind.
pytestmark = pytest.mark.all_stores

MB = 1024 * 1024


@pytest.fixture
def store_url(store_kind: str, store_urls: StoreUrls) -> str:
    return store_urls.fresh(store_kind)


@pytest.fixture
def own_stubs(store_url: str, tmp_path: Path) -> Iterator[Stubs]:
    """A server on a store of its own, for the tests that store big histories: on
    FerretDB every query but by _id scans the collection, so they would slow the
    tests that share the common server's store down."""
    server = ServerProcess(store_url, tmp_path).start()
    stubs = Stubs.connect(server.address)
    yield stubs
    stubs.close()
    server.stop()


def import_history(
    stubs: Stubs, session_id: str, messages: list[pb.ImportedMessage], per_request: int = 1000
) -> pb.ImportMessagesResponse:
    response: pb.ImportMessagesResponse = stubs.memory.ImportMessages(
        import_requests(session_id, messages, per_request), timeout=120
    )
    return response


def stream(
    stubs: Stubs, session_id: str, **fields: object
) -> grpc.CallIterator[pb.StreamMessagesResponse]:
    return stubs.memory.StreamMessages(
        pb.StreamMessagesRequest(session_id=session_id, **fields),  # type: ignore[arg-type]
        timeout=120,
    )


def test_export_of_100k_messages_is_complete_and_ordered(own_stubs: Stubs, session_id: str) -> None:
    stubs = own_stubs
    sent = history(100_000)
    report = import_history(stubs, session_id, sent)
    assert (report.received, report.stored, report.duplicates) == (100_000, 100_000, 0)
    assert report.last_sequence == 100_000

    received, frames = stream_all(stream(stubs, session_id))
    assert len(received) == 100_000
    assert [m.sequence for m in received] == list(range(1, 100_001))
    assert [m.uuid for m in received] == [m.uuid for m in sent]
    assert [m.content for m in received] == [m.content for m in sent]
    assert all(m.token_count > 0 for m in received)
    # Original times survive, to the microsecond.
    assert received[12_345].created_at == sent[12_345].created_at
    assert received[1].role_type == message_pb2.ROLE_TYPE_ASSISTANT
    # Batched: after a slow start (16, 32, 64, ...) 500 per response by default;
    # each response says where it ends, and only the last one is caught up.
    ends = [f.last_sequence for f in frames]
    sizes = [end - start for start, end in zip([0, *ends], ends, strict=False)]
    assert sizes[:5] == [16, 32, 64, 128, 256]
    assert set(sizes[5:-1]) == {500}
    assert ends[-1] == 100_000
    assert [f.caught_up for f in frames] == [False] * (len(frames) - 1) + [True]


def test_cancelled_stream_resumes_without_gap_or_repeat(own_stubs: Stubs, session_id: str) -> None:
    stubs = own_stubs
    sent = history(3000)
    import_history(stubs, session_id, sent)
    first = stream(stubs, session_id, batch_size=100)
    got: list[message_pb2.Message] = []
    last = 0
    for response in first:
        got.extend(response.messages)
        last = response.last_sequence
        if len(got) >= 700:
            break
    first.cancel()  # type: ignore[no-untyped-call]
    # The cursor is the sequence of the last message received.
    assert last == len(got) == got[-1].sequence

    rest, _ = stream_all(stream(stubs, session_id, after_sequence=last, batch_size=100))
    assert [m.sequence for m in got + rest] == list(range(1, 3001))

    # Resuming after a message named by its uuid works the same.
    after_uuid, _ = stream_all(stream(stubs, session_id, after_uuid=sent[2989].uuid))
    assert [m.sequence for m in after_uuid] == list(range(2991, 3001))


def test_follow_delivers_messages_stored_after_it_started(
    server: ServerProcess, session_id: str, tmp_path: Path
) -> None:
    # This server polls the store only once a minute, so a message that reaches
    # the follower within the 5 s its reads wait was delivered by the wake-up of a
    # write through the same server, not by a poll.
    slow_poller = ServerProcess(
        server.store_url, tmp_path, {"MEMORIA_FOLLOW_POLL_INTERVAL": "60"}
    ).start()
    stubs = Stubs.connect(slow_poller.address)
    try:
        import_history(stubs, session_id, history(5))
        follower = Follower(stream(stubs, session_id, follow=True))
        try:
            assert [m.sequence for m in follower.messages(5)] == [1, 2, 3, 4, 5]
            stubs.memory.AddMemory(
                pb.AddMemoryRequest(session_id=session_id, messages=[message("live 1")])
            )
            [live] = follower.messages(1)
            assert (live.sequence, live.content) == (6, "live 1")
            import_history(stubs, session_id, history(3, start=100))
            assert [m.sequence for m in follower.messages(3)] == [7, 8, 9]
        finally:
            follower.cancel()
    finally:
        stubs.close()
        slow_poller.stop()


def test_follow_sees_messages_stored_by_another_server(
    stubs: Stubs, server: ServerProcess, session_id: str, tmp_path: Path
) -> None:
    """Two server processes on one store: a follower of one sees the writes of the other."""
    stubs.memory.AddMemory(pb.AddMemoryRequest(session_id=session_id, messages=[message("one")]))
    follower = Follower(stream(stubs, session_id, follow=True))
    other = ServerProcess(server.store_url, tmp_path).start()
    try:
        caught_up = follower.next()
        assert caught_up.caught_up and caught_up.last_sequence == 1
        other_stubs = Stubs.connect(other.address)
        for n in range(3):
            other_stubs.memory.AddMemory(
                pb.AddMemoryRequest(session_id=session_id, messages=[message(f"elsewhere {n}")])
            )
        other_stubs.close()
        got = follower.messages(3, timeout=5)
        assert [(m.sequence, m.content) for m in got] == [
            (2, "elsewhere 0"),
            (3, "elsewhere 1"),
            (4, "elsewhere 2"),
        ]
    finally:
        follower.cancel()
        other.stop()


def test_follow_ends_at_the_deadline(stubs: Stubs, session_id: str) -> None:
    stubs.memory.AddMemory(pb.AddMemoryRequest(session_id=session_id, messages=[message("x")]))
    started = time.monotonic()
    responses = stubs.memory.StreamMessages(
        pb.StreamMessagesRequest(session_id=session_id, follow=True), timeout=0.6
    )
    with pytest.raises(grpc.RpcError) as raised:
        stream_all(responses)
    assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - started < 3


def test_shutdown_ends_follow_streams_with_their_cursor(store_url: str, tmp_path: Path) -> None:
    server = ServerProcess(store_url, tmp_path, {"MEMORIA_SHUTDOWN_GRACE": "30"}).start()
    stubs = Stubs.connect(server.address)
    stubs.memory.AddMemory(pb.AddMemoryRequest(session_id="s", messages=[message("x")]))
    follower = Follower(stream(stubs, "s", follow=True))
    assert follower.messages(1)
    started = time.monotonic()
    assert server.stop() == 0
    assert time.monotonic() - started < 10  # not the 30 s grace period
    assert follower.next().last_sequence == -1
    [error] = follower.error
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert "after_sequence=1" in (error.details() or "")
    stubs.close()


def test_import_twice_stores_each_message_once(own_stubs: Stubs, session_id: str) -> None:
    stubs = own_stubs
    sent = history(2500)
    first = import_history(stubs, session_id, sent, per_request=300)
    again = import_history(stubs, session_id, sent, per_request=700)
    assert (first.received, first.stored, first.duplicates) == (2500, 2500, 0)
    assert (again.received, again.stored, again.duplicates) == (2500, 0, 2500)
    assert again.last_sequence == 2500
    # A repeat inside one stream, and a stored uuid spelled in upper case, are duplicates too.
    more = [*history(2, start=5000), history(1, start=5000)[0], sent[0]]
    more[-1].uuid = more[-1].uuid.upper()
    third = import_history(stubs, session_id, more)
    assert (third.received, third.stored, third.duplicates) == (4, 2, 2)
    stored, _ = stream_all(stream(stubs, session_id))
    assert len(stored) == 2502
    assert len({m.uuid for m in stored}) == 2502


def test_import_without_uuids_assigns_them(stubs: Stubs, session_id: str) -> None:
    report = import_history(stubs, session_id, history(10, uuids=False))
    assert (report.stored, report.duplicates) == (10, 0)
    stored, _ = stream_all(stream(stubs, session_id))
    assert all(uuid.UUID(m.uuid).version == 4 for m in stored)


def test_malformed_message_half_way_commits_what_came_before(
    own_stubs: Stubs, session_id: str
) -> None:
    stubs = own_stubs
    sent = history(5000)
    sent[2345].role_type = message_pb2.ROLE_TYPE_UNSPECIFIED
    with pytest.raises(grpc.RpcError) as raised:
        import_history(stubs, session_id, sent, per_request=1000)
    error = raised.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(error)) == {"messages[2345].role_type"}
    info = error_info(error)
    assert info["reason"] == "IMPORT_INCOMPLETE"
    assert (info["committed"], info["stored"], info["duplicates"]) == ("2345", "2345", "0")
    assert "resend from messages[2345]" in (error.details() or "")

    stored, _ = stream_all(stream(stubs, session_id))
    assert [m.uuid for m in stored] == [m.uuid for m in sent[:2345]]

    # The client fixes the message and resends from there: nothing lost, nothing twice.
    sent[2345].role_type = message_pb2.ROLE_TYPE_TOOL
    report = import_history(stubs, session_id, sent[2345:])
    assert (report.stored, report.duplicates) == (2655, 0)
    stored, _ = stream_all(stream(stubs, session_id))
    assert [m.uuid for m in stored] == [m.uuid for m in sent]


@pytest.mark.parametrize(
    ("requests", "field"),
    [
        ([pb.ImportMessagesRequest(messages=history(1))], "session_id"),
        (
            [
                pb.ImportMessagesRequest(session_id="a", messages=history(1)),
                pb.ImportMessagesRequest(session_id="b", messages=history(1, start=1)),
            ],
            "session_id",
        ),
        ([pb.ImportMessagesRequest(session_id="a", messages=history(1001))], "messages"),
        (
            [
                pb.ImportMessagesRequest(
                    session_id="a",
                    messages=[
                        pb.ImportedMessage(
                            role_type=message_pb2.ROLE_TYPE_USER,
                            created_at=timestamp_pb2.Timestamp(seconds=1, nanos=-1),
                        )
                    ],
                )
            ],
            "messages[0].created_at",
        ),
        (
            [pb.ImportMessagesRequest(session_id="a", messages=[pb.ImportedMessage(uuid="x")])],
            "messages[0].uuid",
        ),
    ],
)
def test_import_rejects_bad_requests(
    stubs: Stubs, requests: list[pb.ImportMessagesRequest], field: str
) -> None:
    session_id = f"import-{uuid.uuid4().hex}"
    sent = []
    for template in requests:  # shared by the runs on each store: copied, not changed
        request = pb.ImportMessagesRequest()
        request.CopyFrom(template)
        if request.session_id:
            request.session_id = session_id if request.session_id == "a" else "other"
        sent.append(request)
    with pytest.raises(grpc.RpcError) as raised:
        stubs.memory.ImportMessages(iter(sent))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in field_violations(raised.value)


def test_stream_errors(stubs: Stubs, session_id: str) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        stream_all(stream(stubs, "never-created"))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND

    stubs.memory.AddMemory(pb.AddMemoryRequest(session_id=session_id, messages=[message("x")]))
    with pytest.raises(grpc.RpcError) as raised:
        stream_all(stream(stubs, session_id, after_uuid=str(uuid.uuid4())))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert "message" in (raised.value.details() or "")

    with pytest.raises(grpc.RpcError) as raised:
        stream_all(
            stream(
                stubs, session_id, after_sequence=-1, after_uuid=str(uuid.uuid4()), batch_size=5000
            )
        )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(raised.value)) == {"after_sequence", "after_uuid", "batch_size"}


def test_server_memory_stays_bounded_while_a_client_stops_reading(
    store_url: str, session_id: str, tmp_path: Path
) -> None:
    """A reader that stalls holds up the server's store reads, not its memory."""
    writer = ServerProcess(store_url, tmp_path / "writer").start()
    stubs = Stubs.connect(writer.address)
    import_history(stubs, session_id, history(25_000, content_bytes=2000), per_request=500)
    stubs.close()
    writer.stop()
    # A fresh server process on the same store: nothing else in its memory. It
    # resumes indexing the import for search at start; embedding has a working memory
    # of its own (a local model's buffers), so it is left out of this measure.
    reader = ServerProcess(store_url, tmp_path / "reader", {"MEMORIA_EMBEDDER": "none"}).start()
    reader_stubs = Stubs.connect(reader.address)
    try:
        responses = iter(stream(reader_stubs, session_id, batch_size=1000))
        first = next(responses)
        assert len(first.messages) > 0
        time.sleep(0.5)  # whatever flow control lets through arrives now
        before = reader.memory()
        peak = before
        for _ in range(40):  # two seconds stalled
            time.sleep(0.05)
            peak = max(peak, reader.memory())
        # The history is ~50 MB of text; buffering it would take far more than this.
        assert peak - before < 20 * MB, f"server grew {(peak - before) / MB:.1f} MB while stalled"
        rest, _ = stream_all(responses)
        assert len(first.messages) + len(rest) == 25_000
    finally:
        reader_stubs.close()
        reader.stop()


@pytest.mark.parametrize("count", [0, 16, 32, 33])
def test_a_finished_stream_always_ends_caught_up(stubs: Stubs, session_id: str, count: int) -> None:
    """The last response of a stream without follow carries caught_up, also when the
    history ends exactly where a read did (16 and 32 with reads of 16)."""
    stubs.sessions.CreateSession(session_pb.CreateSessionRequest(session_id=session_id))
    if count:
        import_history(stubs, session_id, history(count))
    messages, frames = stream_all(stream(stubs, session_id, batch_size=16))
    assert [m.sequence for m in messages] == list(range(1, count + 1))
    assert frames[-1].caught_up and frames[-1].last_sequence == count
    assert not any(frame.caught_up for frame in frames[:-1])


def _recreate(stubs: Stubs, session_id: str, count: int) -> None:
    stubs.sessions.DeleteSession(session_pb.DeleteSessionRequest(session_id=session_id))
    stubs.memory.AddMemory(
        pb.AddMemoryRequest(
            session_id=session_id, messages=[message(f"new {n}") for n in range(1, count + 1)]
        )
    )


def test_a_follower_ends_when_its_session_is_deleted_and_created_again(
    stubs: Stubs, session_id: str
) -> None:
    """Never old 1-3 then new 4-5: the stream belongs to the incarnation it began in."""
    stubs.memory.AddMemory(
        pb.AddMemoryRequest(
            session_id=session_id, messages=[message(f"old {n}") for n in (1, 2, 3)]
        )
    )
    follower = Follower(stream(stubs, session_id, follow=True))
    try:
        assert [m.content for m in follower.messages(3)] == ["old 1", "old 2", "old 3"]
        _recreate(stubs, session_id, 5)
        while (response := follower.next(timeout=10)).last_sequence != -1:
            assert not response.messages, f"delivered after the delete: {response.messages}"
        [error] = follower.error
        assert error.code() == grpc.StatusCode.NOT_FOUND
        assert error_info(error)["reason"] == "SESSION_DELETED"
        assert "another history" in (error.details() or "")
    finally:
        follower.cancel()


def test_a_resume_token_resumes_and_belongs_to_one_incarnation(
    stubs: Stubs, session_id: str
) -> None:
    import_history(stubs, session_id, history(10))
    first = next(iter(stream(stubs, session_id, batch_size=4)))
    assert first.last_sequence == 4 and first.resume_token
    rest, _ = stream_all(stream(stubs, session_id, resume_token=first.resume_token))
    assert [m.sequence for m in rest] == list(range(5, 11))

    _recreate(stubs, session_id, 5)
    error = call_error(lambda: list(stream(stubs, session_id, resume_token=first.resume_token)))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "deleted since" in field_violations(error)["resume_token"]


def test_a_page_token_belongs_to_one_incarnation(stubs: Stubs, session_id: str) -> None:
    stubs.memory.AddMemory(
        pb.AddMemoryRequest(session_id=session_id, messages=[message(f"old {n}") for n in range(4)])
    )
    page = stubs.memory.ListMessages(pb.ListMessagesRequest(session_id=session_id, page_size=2))
    _recreate(stubs, session_id, 5)
    error = call_error(
        lambda: stubs.memory.ListMessages(
            pb.ListMessagesRequest(
                session_id=session_id, page_size=2, page_token=page.next_page_token
            )
        )
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "deleted since" in field_violations(error)["page_token"]
