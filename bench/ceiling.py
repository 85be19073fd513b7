"""Memoria against the gRPC ceiling, in one run with one client.

Starts a bare grpc.aio echo server (``bench.echo_server``: no parsing, no
storage) and Memoria on a fresh SQLite store, each in its own process, and
drives both with the same asyncio client: AddMemory (one ~200-byte message) and
GetMemory (a window of 12) at one call in flight (p50, p99) and at 32 in flight
over 32 sessions (calls per second). Prints each run and the median of the
runs, each Memoria figure with its ratio to the echo's.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
from memoria.v1 import memory_service_pb2 as pb
from memoria.v1 import memory_service_pb2_grpc

from bench.harness.requests import message
from bench.harness.server_process import ServerProcess

CONTENT = "Octavia Butler wrote Kindred in 1979; what did she write next, and when? " * 3
IN_FLIGHT = 32
Call = Callable[[], Awaitable[object]]


@contextmanager
def echo_server() -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.echo_server"], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    address = process.stdout.readline().split()[-1]
    try:
        yield address
    finally:
        process.terminate()
        process.wait(10)


def calls(stub: Any, session: str) -> dict[str, Call]:
    """The two calls on ``session``; ``stub`` is an asyncio stub (grpc-stubs types
    the blocking one only)."""
    add = pb.AddMemoryRequest(session_id=session, messages=[message(CONTENT)])
    get = pb.GetMemoryRequest(session_id=session)
    return {"AddMemory": lambda: stub.AddMemory(add), "GetMemory": lambda: stub.GetMemory(get)}


async def latencies(call: Call, count: int) -> tuple[float, float]:
    """p50 and p99 in milliseconds at one call in flight."""
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
    samples.sort()
    return samples[len(samples) // 2] * 1000, samples[int(len(samples) * 0.99)] * 1000


async def rate(make_calls: list[Call], seconds: float) -> float:
    """Calls per second with one caller per entry of ``make_calls`` in flight."""
    done = 0
    deadline = time.perf_counter() + seconds

    async def caller(call: Call) -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await call()
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(caller(call) for call in make_calls))
    return done / (time.perf_counter() - started)


async def measure(address: str, count: int, seconds: float, connections: int) -> dict[str, float]:
    # One TCP connection per channel: with several, SO_REUSEPORT workers all get work.
    options = [("grpc.use_local_subchannel_pool", 1)]
    channels = [grpc.aio.insecure_channel(address, options) for _ in range(connections)]
    try:
        stubs = [memory_service_pb2_grpc.MemoryServiceStub(channel) for channel in channels]
        run = uuid.uuid4().hex[:8]
        sessions = [calls(stubs[n % connections], f"ceiling-{run}-{n}") for n in range(IN_FLIGHT)]
        for session in sessions:  # a window to read, and every path warmed up
            for _ in range(12):
                await session["AddMemory"]()
        figures: dict[str, float] = {}
        for name in ("AddMemory", "GetMemory"):
            p50, p99 = await latencies(sessions[0][name], count)
            figures[f"{name} p50 @1 ms"], figures[f"{name} p99 @1 ms"] = p50, p99
            figures[f"{name} @{IN_FLIGHT} /s"] = await rate(
                [session[name] for session in sessions], seconds
            )
        return figures
    finally:
        for channel in channels:
            await channel.close(None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--calls", type=int, default=1000, help="calls per RPC at one in flight")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per RPC at 32")
    parser.add_argument("--workers", type=int, default=1, help="MEMORIA_WORKERS of Memoria")
    parser.add_argument(
        "--connections", type=int, default=1, help="client connections (8 with --workers > 1)"
    )
    args = parser.parse_args()
    connections = args.connections if args.workers == 1 else max(args.connections, 8)
    runs: list[tuple[dict[str, float], dict[str, float]]] = []
    with tempfile.TemporaryDirectory() as work, echo_server() as echo:
        server = ServerProcess(
            f"sqlite:///{work}/ceiling.db",
            Path(work),
            {"MEMORIA_WORKERS": str(args.workers)},
            log_to_file=True,
        ).start()
        try:
            for number in range(1, args.runs + 1):
                ceiling = asyncio.run(measure(echo, args.calls, args.seconds, connections))
                memoria = asyncio.run(
                    measure(server.address, args.calls, args.seconds, connections)
                )
                runs.append((ceiling, memoria))
                print(f"run {number}:")
                report(ceiling, memoria)
        finally:
            server.stop()
    print(
        f"medians of {args.runs} runs (SQLite, access log on, {args.workers} worker(s),"
        f" {connections} connection(s); the echo is one process):"
    )
    report(
        {key: statistics.median(run[0][key] for run in runs) for key in runs[0][0]},
        {key: statistics.median(run[1][key] for run in runs) for key in runs[0][1]},
    )


def report(ceiling: dict[str, float], memoria: dict[str, float]) -> None:
    for key in ceiling:
        ratio = memoria[key] / ceiling[key]
        print(f"  {key:<20} echo {ceiling[key]:>9.2f}  memoria {memoria[key]:>9.2f}  ×{ratio:.2f}")


if __name__ == "__main__":
    main()
