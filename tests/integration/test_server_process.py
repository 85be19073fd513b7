"""The server as a process: restart, shutdown, logging, configuration."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import pytest
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from memoria.v1 import memory_service_pb2 as pb

from bench.harness.requests import SEED_CONVERSATION, message
from bench.harness.server_process import OFFLINE_ENV, ServerProcess
from bench.harness.stubs import Stubs
from tests.support.stores import StoreUrls


@pytest.fixture
def store_url(store_kind: str, store_urls: StoreUrls) -> str:
    return store_urls.fresh(store_kind)


def test_data_survives_a_restart(store_url: str, tmp_path: Path) -> None:
    server = ServerProcess(store_url, tmp_path).start()
    stubs = Stubs.connect(server.address)
    added = stubs.memory.AddMemory(
        pb.AddMemoryRequest(
            session_id="durable", messages=SEED_CONVERSATION, view=pb.MESSAGE_VIEW_FULL
        )
    ).messages
    stubs.close()
    assert server.stop() == 0

    server.start()
    stubs = Stubs.connect(server.address)
    memory = stubs.memory.GetMemory(pb.GetMemoryRequest(session_id="durable"))
    assert list(memory.messages) == list(added)
    [next_message] = stubs.memory.AddMemory(
        pb.AddMemoryRequest(session_id="durable", messages=[message("after restart")])
    ).messages
    assert next_message.sequence == 4
    stubs.close()
    server.stop()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_shutdown_loses_no_acknowledged_write(store_url: str, tmp_path: Path, sig: int) -> None:
    """Writers hammer the server while it is stopped: every acknowledged message is kept."""
    server = ServerProcess(store_url, tmp_path).start()
    stubs = Stubs.connect(server.address)
    acknowledged: list[str] = []
    failures: list[grpc.StatusCode] = []
    stop = threading.Event()

    def write(writer: int) -> None:
        n = 0
        while not stop.is_set():
            try:
                response = stubs.memory.AddMemory(
                    pb.AddMemoryRequest(session_id="drain", messages=[message(f"{writer}-{n}")]),
                    timeout=5,
                )
                acknowledged.extend(m.uuid for m in response.messages)
            except grpc.RpcError as error:
                failures.append(error.code())
                return
            n += 1

    writers = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for writer in writers:
        writer.start()
    while len(acknowledged) < 50:
        threading.Event().wait(0.01)
    exit_code = server.stop(sig)
    stop.set()
    for writer in writers:
        writer.join(10)
    stubs.close()
    assert exit_code == 0
    assert server.wait_for_log("stopped")
    # A call that reaches the server as it shuts down is refused (UNAVAILABLE) or, racing
    # the connection's GOAWAY, reset (CANCELLED) or left unanswered until the client's
    # deadline (on a loaded machine): in every case unacknowledged, and a client retry
    # with the same uuids is safe. What matters is below: nothing acknowledged is lost.
    assert set(failures) <= {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
    }

    server.start()
    stubs = Stubs.connect(server.address)
    stored = stubs.memory.ListMessages(
        pb.ListMessagesRequest(session_id="drain", page_size=1000)
    ).messages
    stubs.close()
    server.stop()
    assert set(acknowledged) <= {m.uuid for m in stored}
    assert [m.sequence for m in stored] == list(range(1, len(stored) + 1))


def test_one_access_log_line_per_rpc(server: ServerProcess, stubs: Stubs) -> None:
    before = len(server.access_log("/memoria.v1.MemoryService/GetMemory"))
    stubs.memory.AddMemory(pb.AddMemoryRequest(session_id="logged", messages=[message("x")]))
    stubs.memory.GetMemory(pb.GetMemoryRequest(session_id="logged"))
    with pytest.raises(grpc.RpcError):
        stubs.memory.GetMemory(pb.GetMemoryRequest(session_id="never-created"))
    # The server is shared: earlier tests' lines may match too, so wait for the count.
    deadline = time.monotonic() + 5
    while len(lines := server.access_log("/memoria.v1.MemoryService/GetMemory")[before:]) < 2:
        assert time.monotonic() < deadline, f"access log lines missing: {lines}"
        time.sleep(0.02)
    assert len(lines) == 2
    assert " OK " in lines[0] and " session=logged peer=ipv4:127.0.0.1:" in lines[0]
    assert "ms tenant=default key=- session=logged " in lines[0]
    assert "error=" not in lines[0]
    assert " NOT_FOUND " in lines[1] and " session=never-created " in lines[1]
    assert lines[1].rstrip().endswith("error=\"session 'never-created' not found\"")


def test_threads_other_than_the_event_loop_do_not_preempt_it(
    server: ServerProcess, stubs: Stubs
) -> None:
    """The event loop's thread keeps the normal policy; every other thread (gRPC's,
    the SQLite writer, the log writer) runs under SCHED_BATCH (docs/performance.md)."""
    stubs.memory.AddMemory(pb.AddMemoryRequest(session_id="policies", messages=[message("x")]))
    deadline = time.monotonic() + 15  # threads started after start-up are found within 10 s
    while True:
        policies = _thread_policies(server.pid)
        others = {tid for tid in policies if tid != server.pid}
        batch = {tid for tid, (_, policy) in policies.items() if policy == os.SCHED_BATCH}
        if others <= batch or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert policies[server.pid][1] == os.SCHED_OTHER
    assert others <= batch, f"not under SCHED_BATCH: {[policies[t] for t in others - batch]}"
    # gRPC core's threads, and Python's (the poller, the writers), named after the executable
    names = [policies[tid][0] for tid in others]
    assert "event_engine" in names
    assert any(name.startswith("python") for name in names), names


def _thread_policies(pid: int) -> dict[int, tuple[str, int]]:
    """Each thread's name and scheduling policy (the 41st field of its stat)."""
    policies = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        name, fields = (task / "stat").read_text().rsplit(")", 1)
        policies[int(task.name)] = (name.split("(", 1)[1], int(fields.split()[38]))
    return policies


MEMORIA_SERVICES = [
    "memoria.v1.MemoryService",
    "memoria.v1.SessionService",
    "memoria.v1.UserService",
]


def test_health_reports_every_service(stubs: Stubs) -> None:
    """SERVING for the server, each Memoria service and the summarizer; an unknown
    name is NOT_FOUND."""
    for service in ["", *MEMORIA_SERVICES, "memoria.v1.Summarizer"]:
        response = stubs.health.Check(health_pb2.HealthCheckRequest(service=service))
        assert response.status == health_pb2.HealthCheckResponse.SERVING, service
    with pytest.raises(grpc.RpcError) as unknown:
        stubs.health.Check(health_pb2.HealthCheckRequest(service="memoria.v1.Nothing"))
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND


def test_reflection_lists_and_describes_every_service(stubs: Stubs) -> None:
    """Reflection names the three services, health and itself, and serves the file
    that defines each Memoria service."""
    reflection = reflection_pb2_grpc.ServerReflectionStub(stubs.channel)
    requests = [
        reflection_pb2.ServerReflectionRequest(list_services=""),
        *(
            reflection_pb2.ServerReflectionRequest(file_containing_symbol=name)
            for name in MEMORIA_SERVICES
        ),
    ]
    listed, *files = reflection.ServerReflectionInfo(iter(requests))
    assert {s.name for s in listed.list_services_response.service} == {
        *MEMORIA_SERVICES,
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    }
    for name, response in zip(MEMORIA_SERVICES, files, strict=True):
        [serialized, *_] = response.file_descriptor_response.file_descriptor_proto
        file = descriptor_pb2.FileDescriptorProto.FromString(serialized)
        assert name.rpartition(".")[2] in {service.name for service in file.service}


def test_reflection_finds_the_file_of_a_method(stubs: Stubs) -> None:
    """``grpcurl describe memoria.v1.MemoryService.GetMemory`` asks for a method."""
    reflection = reflection_pb2_grpc.ServerReflectionStub(stubs.channel)
    requests = [
        reflection_pb2.ServerReflectionRequest(
            file_containing_symbol="memoria.v1.MemoryService.GetMemory"
        ),
        reflection_pb2.ServerReflectionRequest(
            file_containing_symbol="memoria.v1.MemoryService.NoSuchMethod"
        ),
    ]
    found, missing = reflection.ServerReflectionInfo(iter(requests))
    [serialized, *_] = found.file_descriptor_response.file_descriptor_proto
    file = descriptor_pb2.FileDescriptorProto.FromString(serialized)
    assert file.name == "memoria/v1/memory_service.proto"
    assert missing.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]


def test_o200k_encoding_counts_offline(store_url: str, tmp_path: Path) -> None:
    server = ServerProcess(store_url, tmp_path, {"MEMORIA_TOKEN_ENCODING": "o200k_base"}).start()
    stubs = Stubs.connect(server.address)
    [stored] = stubs.memory.AddMemory(
        pb.AddMemoryRequest(session_id="o200k", messages=[message("これは日本語の文章です。")])
    ).messages
    stubs.close()
    server.stop()
    assert stored.token_count == 7  # 10 under cl100k_base
    assert any("encoding o200k_base" in line for line in server.log)


@pytest.mark.parametrize(("setting", "loop"), [(None, "uvloop"), ("asyncio", "asyncio")])
def test_runs_on_the_event_loop_chosen(tmp_path: Path, setting: str | None, loop: str) -> None:
    env = {} if setting is None else {"MEMORIA_EVENT_LOOP": setting}
    server = ServerProcess(f"sqlite:///{tmp_path}/m.db", tmp_path, env).start()
    stubs = Stubs.connect(server.address)
    stubs.memory.AddMemory(pb.AddMemoryRequest(session_id="loop", messages=[message("hi")]))
    memory = stubs.memory.GetMemory(pb.GetMemoryRequest(session_id="loop"))
    stubs.close()
    assert server.stop() == 0
    assert [m.content for m in memory.messages] == ["hi"]
    assert server.wait_for_log(f"event loop {loop})")


@pytest.mark.parametrize(
    ("flag", "complaint"),
    [
        ("--listen=0.0.0.0:0", "loopback only (set MEMORIA_AUTH=api-key)"),
        ("--auth=password", "MEMORIA_AUTH: Input should be 'none' or 'api-key'"),
        ("--tls-cert=cert.pem", "MEMORIA_TLS_CERT and MEMORIA_TLS_KEY go together"),
        ("--tls-client-ca=ca.pem", "MEMORIA_TLS_CLIENT_CA needs MEMORIA_TLS_CERT"),
        (
            "--tls-cert=/nonexistent/cert.pem --tls-key=/nonexistent/key.pem",
            "MEMORIA_TLS_KEY: cannot read /nonexistent/key.pem: No such file or directory",
        ),
        ("--token-encoding=p50k_base", "unsupported token encoding"),
        ("--store-url=postgres://x", "unsupported store URL"),
        ("--window=0", "MEMORIA_WINDOW: Input should be greater than or equal to 1"),
        ("--log-level=chatty", "MEMORIA_LOG_LEVEL: Input should be 'DEBUG'"),
        ("--event-loop=trio", "MEMORIA_EVENT_LOOP: Input should be 'uvloop' or 'asyncio'"),
        ("--listen=127.0.0.1:99999", "with a port from 0 to 65535"),
    ],
)
def test_refuses_to_start_with_a_bad_setting(tmp_path: Path, flag: str, complaint: str) -> None:
    store_flag = f"--store-url=sqlite:///{tmp_path}/m.db"
    flags = [*flag.split(), *([] if flag.startswith("--store-url") else [store_flag])]
    if not flag.startswith("--listen"):  # 50051 may be taken by a server on this machine
        flags.append("--listen=127.0.0.1:0")
    result = subprocess.run(
        [sys.executable, "-m", "server", *flags],
        capture_output=True,
        text=True,
        timeout=60,
        env={**OFFLINE_ENV, "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2
    assert complaint in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_busy_port_stops_the_second_server(server: ServerProcess, tmp_path: Path) -> None:
    """gRPC would share the port (SO_REUSEPORT) and split the calls between the two."""
    result = subprocess.run(
        [sys.executable, "-m", "server", f"--store-url=sqlite:///{tmp_path}/m.db"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**OFFLINE_ENV, "PATH": "/usr/bin:/bin", "MEMORIA_LISTEN": server.address},
    )
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert f"cannot listen on {server.address}: Address already in use" in line
