"""What the Python client costs per call: median AddMemory and GetMemory latency at one
call in flight, through ``memoria_client.MemoriaClient`` and through the raw generated
stubs, in the same run against the same live server (``python -m server`` on a fresh
SQLite store). Rounds alternate between the two so that drift affects both alike.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
from memoria.v1 import memory_service_pb2 as pb
from memoria.v1 import memory_service_pb2_grpc, message_pb2
from memoria_client import MemoriaClient, Message

from bench.harness.server_process import ServerProcess

CONTENT = "what did Octavia Butler write after Kindred?"


@contextmanager
def live_server(work_dir: Path) -> Iterator[str]:
    """``python -m server`` on a fresh SQLite store; yields its address."""
    server = ServerProcess(
        f"sqlite:///{work_dir}/overhead.db", work_dir, {"MEMORIA_ACCESS_LOG": "false"}
    ).start()
    try:
        yield server.address
    finally:
        server.stop()


def _time(call: Callable[[], object], calls: int) -> list[float]:
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def _client_calls(client: MemoriaClient) -> dict[str, Callable[[], object]]:
    session_id = f"client-{uuid.uuid4().hex}"
    return {
        "AddMemory": lambda: client.memory.add_memory(
            session_id, [Message(role="Jane", role_type="user", content=CONTENT)]
        ),
        "GetMemory": lambda: client.memory.get_memory(session_id),
    }


def _stub_calls(stub: memory_service_pb2_grpc.MemoryServiceStub) -> dict[str, Callable[[], object]]:
    session_id = f"stubs-{uuid.uuid4().hex}"
    return {
        "AddMemory": lambda: stub.AddMemory(
            pb.AddMemoryRequest(
                session_id=session_id,
                messages=[
                    message_pb2.Message(
                        uuid=str(uuid.uuid4()),
                        role="Jane",
                        role_type=message_pb2.ROLE_TYPE_USER,
                        content=CONTENT,
                    )
                ],
            ),
            timeout=30,
        ),
        "GetMemory": lambda: stub.GetMemory(pb.GetMemoryRequest(session_id=session_id), timeout=30),
    }


def measure(address: str, calls: int, rounds: int) -> dict[str, dict[str, float]]:
    """Median latency in ms per path ("client", "stubs") and RPC."""
    samples: dict[str, dict[str, list[float]]] = {
        path: {"AddMemory": [], "GetMemory": []} for path in ("client", "stubs")
    }
    channel = grpc.insecure_channel(address)
    with MemoriaClient(address) as client:
        paths = {
            "client": _client_calls(client),
            "stubs": _stub_calls(memory_service_pb2_grpc.MemoryServiceStub(channel)),
        }
        for calls_of in paths.values():  # warm up both, and fill both windows
            for call in calls_of.values():
                _time(call, 100)
        for _ in range(rounds):
            for path, calls_of in paths.items():
                for rpc, call in calls_of.items():
                    samples[path][rpc] += _time(call, calls)
    channel.close()
    return {
        path: {rpc: statistics.median(values) * 1000 for rpc, values in by_rpc.items()}
        for path, by_rpc in samples.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=300, help="calls per RPC per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work, live_server(Path(work)) as address:
        medians = measure(address, args.calls, args.rounds)
    total = args.calls * args.rounds
    print(f"median latency at one call in flight, {total} calls per RPC and path (SQLite):")
    for rpc in ("AddMemory", "GetMemory"):
        client, stubs = medians["client"][rpc], medians["stubs"][rpc]
        print(
            f"  {rpc:9}  client {client:.3f} ms  raw stubs {stubs:.3f} ms"
            f"  overhead {client - stubs:+.3f} ms ({(client / stubs - 1) * 100:+.0f}%)"
        )


if __name__ == "__main__":
    main()
