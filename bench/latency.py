"""Latency of AddMemory and GetMemory at one call in flight, against a live server.

Starts ``python -m server`` on a fresh store (SQLite unless --store-url says
otherwise), warms up, then times sequential calls through the generated stubs
and prints median and p99 per RPC for each of several runs, plus the median of
the run medians.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from memoria.v1 import memory_service_pb2 as pb

from tests.support.clients import Stubs
from tests.support.messages import SEED_CONVERSATION, message
from tests.support.server_process import ServerProcess


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _run(stubs: Stubs, calls: int) -> dict[str, list[float]]:
    session_id = f"bench-{uuid.uuid4().hex}"
    timings: dict[str, list[float]] = {"AddMemory": [], "GetMemory": []}
    for n in range(calls):
        request = pb.AddMemoryRequest(
            session_id=session_id,
            messages=[message(f"Message {n}: what did Octavia Butler write after Kindred?")],
        )
        started = time.perf_counter()
        stubs.memory.AddMemory(request)
        timings["AddMemory"].append(time.perf_counter() - started)
        started = time.perf_counter()
        stubs.memory.GetMemory(pb.GetMemoryRequest(session_id=session_id))
        timings["GetMemory"].append(time.perf_counter() - started)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store-url", default="", help="default: a fresh SQLite file")
    parser.add_argument("--calls", type=int, default=2000, help="calls per RPC per run")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as work_dir:
        store_url = args.store_url or f"sqlite:///{work_dir}/bench.db"
        server = ServerProcess(store_url, Path(work_dir), {"MEMORIA_ACCESS_LOG": "false"})
        server.start()
        try:
            stubs = Stubs.connect(server.address)
            stubs.memory.AddMemory(
                pb.AddMemoryRequest(session_id="warm-up", messages=SEED_CONVERSATION)
            )
            _run(stubs, 200)
            medians: dict[str, list[float]] = {"AddMemory": [], "GetMemory": []}
            print(f"store {store_url}, {args.calls} sequential calls per RPC per run")
            for run in range(1, args.runs + 1):
                timings = _run(stubs, args.calls)
                cells = []
                for rpc, samples in timings.items():
                    median = statistics.median(samples) * 1000
                    medians[rpc].append(median)
                    p99 = _percentile(samples, 0.99) * 1000
                    cells.append(f"{rpc} median {median:.3f} ms p99 {p99:.3f} ms")
                print(f"run {run}: " + " | ".join(cells))
            for rpc, values in medians.items():
                print(
                    f"{rpc}: median of {args.runs} run medians = {statistics.median(values):.3f} ms"
                )
            stubs.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
