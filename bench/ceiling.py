"""Memoria against the gRPC ceiling, in one run with one client.

Starts a bare grpc.aio echo server (``bench.echo_server``: no parsing, no
storage) and Memoria on a fresh store (SQLite, or MongoDB with ``--store
mongodb``: ``MEMORIA_TEST_MONGODB_URI`` or a FerretDB started for the purpose),
each in its own process, and drives both with the same asyncio client:
AddMemory (one ~200-byte message) and GetMemory (a window of 12) at one call in
flight (p50, p99) and at 32 in flight over 32 sessions (calls per second), and
GetMemory at one in flight on a session of 10,000 messages (``--long-session``).
At 32 in flight it also takes the CPU time the server (all its processes) and
the client spent per call (figures that other load on the machine disturbs
less than rates do), how many of the machine's cores were busy, and the most
calls per second the cores allow at those two costs: a bound no number of
server processes can pass while the client shares the machine. Before each
phase it waits for Memoria's background search indexing to catch up, so that
indexing does not share the CPU with what is measured (the AddMemory @32 phase
still pays for the indexing it causes). Prints each run and the median of the
runs, each Memoria figure with its ratio to the echo's (the long session's to
the echo's GetMemory), the bound over the echo's rate, and the long session's
p50 over a fresh session's. ``--echo-processes N`` runs N echoes on one port,
to see what more processes give the bare transport on the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
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
from memoria.v1 import memory_service_pb2_grpc, message_pb2

from bench.harness.requests import message
from bench.harness.server_process import ServerProcess
from bench.harness.stores import fresh_store_url

CONTENT = "Octavia Butler wrote Kindred in 1979; what did she write next, and when? " * 3
IN_FLIGHT = 32
LONG_SESSION = 10_000
LONG_P50 = "GetMemory p50 @1 ms, long session"
CORES = os.cpu_count() or 1
Call = Callable[[], Awaitable[object]]


@contextmanager
def echo_server(
    loop: str = "asyncio", threads: str = "normal", processes: int = 1
) -> Iterator[tuple[str, list[int]]]:
    """The echo's address and process ids; ``loop``: its event loop; ``threads``: the
    scheduling policy of its threads other than the loop's; ``processes``: how many
    serve the port (SO_REUSEPORT), as Memoria's workers do."""
    command = [sys.executable, "-m", "bench.echo_server", "--loop", loop, "--threads", threads]
    started: list[subprocess.Popen[str]] = []
    try:
        address = "127.0.0.1:0"
        for _ in range(processes):
            process = subprocess.Popen(
                [*command, "--listen", address], stdout=subprocess.PIPE, text=True
            )
            started.append(process)
            assert process.stdout is not None
            address = process.stdout.readline().split()[-1]
        yield address, [process.pid for process in started]
    finally:
        for process in started:
            process.terminate()
        for process in started:
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


def machine_busy() -> tuple[int, int]:
    """Jiffies of all CPUs so far: busy (anything but idle and I/O wait) and total."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return sum(fields) - fields[3] - fields[4], sum(fields)


def cpu_seconds(pids: list[int]) -> float:
    """CPU time used so far by processes ``pids`` and their descendants (workers)."""
    ticks = 0
    pending = list(pids)
    while pending:
        current = pending.pop()
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
    return ticks / os.sysconf("SC_CLK_TCK")


async def rate(make_calls: list[Call], seconds: float, server_pids: list[int]) -> tuple[float, ...]:
    """Calls per second with one caller per entry of ``make_calls`` in flight, the
    server's and this client's CPU time per call, in microseconds, and how many of
    the machine's cores were busy (with anything)."""
    done = 0
    deadline = time.perf_counter() + seconds

    async def caller(call: Call) -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await call()
            done += 1

    started, server_cpu, client_cpu, (busy, total) = (
        time.perf_counter(),
        cpu_seconds(server_pids),
        time.process_time(),
        machine_busy(),
    )
    await asyncio.gather(*(caller(call) for call in make_calls))
    elapsed = time.perf_counter() - started
    server_us = (cpu_seconds(server_pids) - server_cpu) / done * 1e6
    client_us = (time.process_time() - client_cpu) / done * 1e6
    busy_after, total_after = machine_busy()
    cores_busy = (busy_after - busy) / (total_after - total) * CORES
    return done / elapsed, server_us, client_us, cores_busy


async def long_session(stub: Any, count: int, size: int) -> float:
    """GetMemory's p50 at one in flight on a session of ``size`` messages, imported
    first (the echo has no ImportMessages, and answers GetMemory at once)."""
    session = f"ceiling-long-{uuid.uuid4().hex[:8]}"

    def requests() -> Any:
        yield pb.ImportMessagesRequest(session_id=session)
        for start in range(0, size, 500):
            yield pb.ImportMessagesRequest(
                messages=[
                    pb.ImportedMessage(
                        role="Jane", role_type=message_pb2.ROLE_TYPE_USER, content=f"{CONTENT} {n}"
                    )
                    for n in range(start, min(size, start + 500))
                ]
            )

    with contextlib.suppress(grpc.aio.AioRpcError):  # the echo has no ImportMessages
        await stub.ImportMessages(requests())
    await settle(stub, [session])
    get = pb.GetMemoryRequest(session_id=session)
    p50, _ = await latencies(lambda: stub.GetMemory(get), count)
    return p50


async def settle(stub: Any, session_ids: list[str], patience: float = 300.0) -> None:
    """Waits until background indexing has reached every message of the sessions, so
    that it does not share the CPU with what is measured next (the echo has no
    SearchMemory: nothing to wait for)."""
    try:
        async with asyncio.timeout(patience):
            for session_id in session_ids:
                request = pb.SearchMemoryRequest(session_id=session_id, query="Kindred", limit=1)
                while True:  # polled: the server tells how far indexing has got
                    answer = await stub.SearchMemory(request)
                    if not answer.unindexed_messages:
                        break
                    await asyncio.sleep(0.2)
    except TimeoutError:
        print(f"  (indexing had not caught up after {patience:.0f} s)")
    except grpc.aio.AioRpcError as error:
        if error.code() != grpc.StatusCode.UNIMPLEMENTED:
            raise


async def measure(
    address: str, pids: list[int], count: int, seconds: float, connections: int, long_size: int
) -> dict[str, float]:
    # One TCP connection per channel: with several, SO_REUSEPORT workers all get work.
    options = [("grpc.use_local_subchannel_pool", 1)]
    channels = [grpc.aio.insecure_channel(address, options) for _ in range(connections)]
    try:
        stubs = [memory_service_pb2_grpc.MemoryServiceStub(channel) for channel in channels]
        run = uuid.uuid4().hex[:8]
        names = [f"ceiling-{run}-{n}" for n in range(IN_FLIGHT)]
        sessions = [calls(stubs[n % connections], name) for n, name in enumerate(names)]
        for session in sessions:  # a window to read, and every path warmed up
            for _ in range(12):
                await session["AddMemory"]()
        figures: dict[str, float] = {}
        for name in ("AddMemory", "GetMemory"):
            await settle(stubs[0], names)
            p50, p99 = await latencies(sessions[0][name], count)
            figures[f"{name} p50 @1 ms"], figures[f"{name} p99 @1 ms"] = p50, p99
            at = f"{name} @{IN_FLIGHT}"
            (
                figures[f"{at} /s"],
                figures[f"{at} server CPU us/call"],
                figures[f"{at} client CPU us/call"],
                figures[f"{at} cores busy of {CORES}"],
            ) = await rate([session[name] for session in sessions], seconds, pids)
            # The most calls/s the machine's cores allow at these CPU costs, if this
            # server and this client had all of them (more server processes could
            # come near it; one is held back by its event loop's thread).
            figures[f"{at} cores allow /s"] = (
                CORES
                * 1e6
                / (figures[f"{at} server CPU us/call"] + figures[f"{at} client CPU us/call"])
            )
        if long_size:  # --long-session 0 leaves it out, for quicker profiling runs
            figures[LONG_P50] = await long_session(stubs[0], count, long_size)
        return figures
    finally:
        for channel in channels:
            await channel.close(None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--calls", type=int, default=1000, help="calls per RPC at one in flight")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per RPC at 32")
    parser.add_argument("--store", choices=["sqlite", "mongodb"], default="sqlite")
    parser.add_argument(
        "--long-session", type=int, default=LONG_SESSION, help="messages of the long session"
    )
    parser.add_argument("--workers", type=int, default=1, help="MEMORIA_WORKERS of Memoria")
    parser.add_argument(
        "--connections", type=int, default=1, help="client connections (8 with --workers > 1)"
    )
    parser.add_argument(
        "--echo-loop",
        choices=["asyncio", "uvloop"],
        default="asyncio",
        help="the echo's event loop (Memoria runs on uvloop unless MEMORIA_EVENT_LOOP says)",
    )
    parser.add_argument(
        "--echo-threads",
        choices=["normal", "batch"],
        default="normal",
        help="the policy of the echo's other threads (Memoria's run under SCHED_BATCH)",
    )
    parser.add_argument(
        "--echo-processes",
        type=int,
        default=1,
        help="echo processes on one port (the targets compare with one)",
    )
    args = parser.parse_args()
    several = args.workers > 1 or args.echo_processes > 1
    connections = max(args.connections, 8) if several else args.connections
    runs: list[tuple[dict[str, float], dict[str, float]]] = []
    with (
        tempfile.TemporaryDirectory() as work,
        fresh_store_url(args.store, Path(work)) as store_url,
        echo_server(args.echo_loop, args.echo_threads, args.echo_processes) as (echo, echo_pids),
    ):
        server = ServerProcess(
            store_url,
            Path(work),
            {"MEMORIA_WORKERS": str(args.workers)},
            log_to_file=True,
        ).start()
        try:
            for number in range(1, args.runs + 1):
                ceiling = asyncio.run(
                    measure(
                        echo, echo_pids, args.calls, args.seconds, connections, args.long_session
                    )
                )
                memoria = asyncio.run(
                    measure(
                        server.address,
                        [server.pid],
                        args.calls,
                        args.seconds,
                        connections,
                        args.long_session,
                    )
                )
                runs.append((ceiling, memoria))
                print(f"run {number}:")
                report(ceiling, memoria)
        finally:
            server.stop()
    print(
        f"medians of {args.runs} runs ({args.store}, access log on, {args.workers} worker(s),"
        f" {connections} connection(s); the echo is {args.echo_processes} process(es),"
        f" on {args.echo_loop},"
        f" its other threads {args.echo_threads}):"
    )
    report(
        {key: statistics.median(run[0][key] for run in runs) for key in runs[0][0]},
        {key: statistics.median(run[1][key] for run in runs) for key in runs[0][1]},
    )
    if args.long_session:
        print(f"  (the long session has {args.long_session:,} messages)")


def report(ceiling: dict[str, float], memoria: dict[str, float]) -> None:
    for key in ceiling:
        ratio = memoria[key] / ceiling[key]
        print(f"  {key:<34} echo {ceiling[key]:>9.2f}  memoria {memoria[key]:>9.2f}  ×{ratio:.2f}")
    for name in ("AddMemory", "GetMemory"):
        at = f"{name} @{IN_FLIGHT}"
        bound = memoria[f"{at} cores allow /s"] / ceiling[f"{at} /s"]
        print(f"  {at}: the cores allow Memoria ×{bound:.2f} of the echo's rate, with any workers")
    if LONG_P50 in memoria:
        long_over_fresh = memoria[LONG_P50] / memoria["GetMemory p50 @1 ms"]
        print(f"  GetMemory p50 @1, long session over a fresh one: ×{long_over_fresh:.2f}")


if __name__ == "__main__":
    main()
