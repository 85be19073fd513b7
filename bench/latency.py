"""Latency of AddMemory and GetMemory at one call in flight, against a live server.

Starts ``python -m server`` on a fresh store of each kind asked for (by default
both: a SQLite file, and a MongoDB database on ``MEMORIA_TEST_MONGODB_URI`` or on
a FerretDB started for the purpose), warms up, then times sequential calls
through the generated stubs and prints median and p99 per RPC for each of
several runs, plus the median of the run medians.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from memoria.v1 import memory_service_pb2 as pb

from bench.harness.requests import SEED_CONVERSATION, message
from bench.harness.server_process import ServerProcess
from bench.harness.stores import fresh_store_url
from bench.harness.stubs import Stubs

# FerretDB, the MongoDB the tests use, scans the whole collection on every query
# that does not name an _id (see the README), so its figures get worse as the
# benchmark fills it: fewer calls keep them comparable from run to run.
DEFAULT_CALLS = {"sqlite": 2000, "mongodb": 300}


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def time_calls(stubs: Stubs, calls: int) -> dict[str, list[float]]:
    """Seconds each of ``calls`` AddMemory (one message) and GetMemory calls took, one
    call in flight, on a new session."""
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


def _measure(store_url: str, work_dir: Path, calls: int, runs: int) -> dict[str, float]:
    """Prints each run's figures; returns the median of the run medians per RPC, in ms."""
    server = ServerProcess(store_url, work_dir, {"MEMORIA_ACCESS_LOG": "false"})
    server.start()
    try:
        stubs = Stubs.connect(server.address)
        stubs.memory.AddMemory(
            pb.AddMemoryRequest(session_id="warm-up", messages=SEED_CONVERSATION)
        )
        time_calls(stubs, 200)
        medians: dict[str, list[float]] = {"AddMemory": [], "GetMemory": []}
        print(f"store {store_url}, {calls} sequential calls per RPC per run")
        for run in range(1, runs + 1):
            cells = []
            for rpc, samples in time_calls(stubs, calls).items():
                median = statistics.median(samples) * 1000
                medians[rpc].append(median)
                p99 = percentile(samples, 0.99) * 1000
                cells.append(f"{rpc} median {median:.3f} ms p99 {p99:.3f} ms")
            print(f"  run {run}: " + " | ".join(cells))
        stubs.close()
    finally:
        server.stop()
    return {rpc: statistics.median(values) for rpc, values in medians.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", choices=["sqlite", "mongodb", "both"], default="both")
    parser.add_argument(
        "--calls",
        type=int,
        default=0,
        help="calls per RPC per run (default: 2000 on SQLite, 300 on MongoDB)",
    )
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    kinds = ["sqlite", "mongodb"] if args.store == "both" else [args.store]
    results: dict[str, dict[str, float]] = {}
    for kind in kinds:
        with tempfile.TemporaryDirectory() as work, fresh_store_url(kind, Path(work)) as url:
            calls = args.calls or DEFAULT_CALLS[kind]
            results[kind] = _measure(url, Path(work), calls, args.runs)
    print(f"median of {args.runs} run medians, one call in flight:")
    for kind, figures in results.items():
        cells = " | ".join(f"{rpc} {value:.3f} ms" for rpc, value in figures.items())
        print(f"  {kind:8} {cells}")


if __name__ == "__main__":
    main()
