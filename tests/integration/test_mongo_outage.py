"""A MongoDB outage seen from a client: fast UNAVAILABLE, NOT_SERVING, then recovery.

The test runs its own FerretDB, so that it can kill it and start it again on the
same port and data, and its own server, probing the store every half second.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2
from memoria.v1 import memory_service_pb2 as pb

from bench.harness.ferretdb import FerretDB, database_url
from bench.harness.requests import SEED_CONVERSATION, message
from bench.harness.server_process import ServerProcess
from bench.harness.stubs import Stubs

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
DEADLINE = 5.0  # seconds a client gives each call during the outage


@pytest.fixture
def ferretdb(ferretdb_path: Path, tmp_path: Path) -> Iterator[FerretDB]:
    database = FerretDB(ferretdb_path, tmp_path / "ferretdb").start()
    yield database
    database.stop()


@pytest.fixture
def server(ferretdb: FerretDB, tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(
        database_url(ferretdb.uri, "memoria"),
        tmp_path,
        {"MEMORIA_HEALTH_INTERVAL": "0.5"},
    ).start()
    yield process
    process.stop()


def eventually(condition: Callable[[], bool], timeout: float) -> float:
    """Seconds until ``condition`` held; fails after ``timeout``."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"not within {timeout}s"
        time.sleep(0.1)
    return time.monotonic() - started


def health(stubs: Stubs) -> int:
    status: int = stubs.health.Check(health_pb2.HealthCheckRequest(), timeout=DEADLINE).status
    return status


def assert_store_unavailable(call: Callable[[], object]) -> None:
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as failure:
        call()
    elapsed = time.monotonic() - started
    assert failure.value.code() == grpc.StatusCode.UNAVAILABLE, failure.value.details()
    assert "MongoDB store unavailable" in (failure.value.details() or "")
    assert elapsed < DEADLINE - 1


def test_outage_fails_fast_and_the_server_recovers_by_itself(
    ferretdb: FerretDB, server: ServerProcess
) -> None:
    stubs = Stubs.connect(server.address)
    session = "outage"
    before = stubs.memory.AddMemory(
        pb.AddMemoryRequest(
            session_id=session, messages=SEED_CONVERSATION, view=pb.MESSAGE_VIEW_FULL
        )
    ).messages
    assert health(stubs) == SERVING

    ferretdb.kill()
    assert_store_unavailable(
        lambda: stubs.memory.AddMemory(
            pb.AddMemoryRequest(session_id=session, messages=[message("lost?")]),
            timeout=DEADLINE,
        )
    )
    assert_store_unavailable(
        lambda: stubs.memory.GetMemory(pb.GetMemoryRequest(session_id=session), timeout=DEADLINE)
    )
    eventually(lambda: health(stubs) == NOT_SERVING, timeout=3)
    for service in ["memoria.v1.MemoryService", "memoria.v1.SessionService"]:
        response = stubs.health.Check(health_pb2.HealthCheckRequest(service=service))
        assert response.status == NOT_SERVING

    ferretdb.start()  # same port, same data
    eventually(lambda: health(stubs) == SERVING, timeout=10)
    listed = stubs.memory.ListMessages(pb.ListMessagesRequest(session_id=session)).messages
    assert list(listed) == list(before)
    [after] = stubs.memory.AddMemory(
        pb.AddMemoryRequest(session_id=session, messages=[message("back again")]),
        timeout=DEADLINE,
    ).messages
    assert after.sequence == 4
    stubs.close()
    assert server.wait_for_log("store available again")
