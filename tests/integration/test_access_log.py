"""The access log tells how each call really ended (issue 9, point 8)."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2
from memoria.v1 import memory_service_pb2 as pb

from bench.harness.requests import message
from bench.harness.server_process import ServerProcess
from bench.harness.stubs import Stubs


@pytest.fixture
def debug_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server of its own that logs at DEBUG, with a long shutdown grace."""
    server = ServerProcess(
        f"sqlite:///{tmp_path / 'memoria.db'}",
        tmp_path,
        {"MEMORIA_LOG_LEVEL": "DEBUG", "MEMORIA_SHUTDOWN_GRACE": "20"},
    ).start()
    yield server
    server.stop()


def wait_for_line(server: ServerProcess, method: str, session_id: str) -> str:
    """The access-log line of the call of ``method`` on ``session_id`` (the server is
    shared: other tests' lines are there too)."""
    deadline = time.monotonic() + 10
    while not (
        lines := [line for line in server.access_log(method) if f"session={session_id} " in line]
    ):
        assert time.monotonic() < deadline, f"no access log line for {method}: {server.log[-5:]}"
        time.sleep(0.02)
    [line] = lines
    return line


def test_a_follow_stream_ended_by_its_deadline_is_logged_so(
    server: ServerProcess, stubs: Stubs, session_id: str
) -> None:
    stubs.memory.AddMemory(pb.AddMemoryRequest(session_id=session_id, messages=[message("x")]))
    call = stubs.memory.StreamMessages(
        pb.StreamMessagesRequest(session_id=session_id, follow=True), timeout=1
    )
    with pytest.raises(grpc.RpcError) as ended:
        list(call)
    assert ended.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    line = wait_for_line(server, "/memoria.v1.MemoryService/StreamMessages", session_id)
    assert " DEADLINE_EXCEEDED " in line


def test_a_follow_stream_cancelled_by_the_client_is_logged_so(
    server: ServerProcess, stubs: Stubs, session_id: str
) -> None:
    stubs.memory.AddMemory(pb.AddMemoryRequest(session_id=session_id, messages=[message("x")]))
    call = stubs.memory.StreamMessages(pb.StreamMessagesRequest(session_id=session_id, follow=True))
    next(iter(call))
    call.cancel()  # type: ignore[no-untyped-call]
    line = wait_for_line(server, "/memoria.v1.MemoryService/StreamMessages", session_id)
    assert " CANCELLED " in line


def test_health_and_reflection_log_at_debug_only(server: ServerProcess, stubs: Stubs) -> None:
    """At INFO (the default) health checks leave no line, Memoria's calls do."""
    stubs.health.Check(health_pb2.HealthCheckRequest())
    stubs.memory.AddMemory(pb.AddMemoryRequest(session_id="after-health", messages=[message("x")]))
    wait_for_line(server, "/memoria.v1.MemoryService/AddMemory", "after-health")
    assert server.access_log("/grpc.health.v1.Health/Check") == []


def test_an_open_watch_does_not_hold_shutdown(debug_server: ServerProcess) -> None:
    """The watcher hears NOT_SERVING, then its stream ends with UNAVAILABLE, and the
    server stops at once instead of after its 20 s grace."""
    stubs = Stubs.connect(debug_server.address)
    statuses: queue.Queue[object] = queue.Queue()

    def watch() -> None:
        try:
            for response in stubs.health.Watch(health_pb2.HealthCheckRequest()):
                statuses.put(response.status)
        except grpc.RpcError as error:
            statuses.put(error.code())

    threading.Thread(target=watch, daemon=True).start()
    assert statuses.get(timeout=5) == health_pb2.HealthCheckResponse.SERVING
    started = time.monotonic()
    assert debug_server.stop() == 0
    assert time.monotonic() - started < 5
    assert statuses.get(timeout=5) == health_pb2.HealthCheckResponse.NOT_SERVING
    assert statuses.get(timeout=5) == grpc.StatusCode.UNAVAILABLE
    [line] = debug_server.access_log("/grpc.health.v1.Health/Watch")
    assert " DEBUG memoria.access " in line and " UNAVAILABLE " in line
    stubs.close()
