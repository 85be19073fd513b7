"""What checking API keys adds to a call: AddMemory and GetMemory latency, one call in
flight, on a server with ``MEMORIA_AUTH=none`` and one with ``api-key``, in one run.

Both servers share one fresh store (SQLite by default) and both clients send the
key (``none`` ignores it), so the difference is the server's checking alone; runs
alternate between the servers (ABBA) so that drift of the machine and the growth of
the database affect both alike.
With the default key cache (5 s) a key costs a parse, a SHA-256 and a dictionary
lookup per call, and one store read per key per 5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from pathlib import Path

from memoria.v1 import memory_service_pb2 as pb

from bench.harness.requests import SEED_CONVERSATION
from bench.harness.server_process import ServerProcess
from bench.harness.stores import fresh_store_url
from bench.harness.stubs import Stubs
from bench.latency import time_calls
from server.domain.api_keys import issue_key
from server.domain.clock import utc_now
from server.storage.open import open_store

MODES = {"none": {}, "api-key": {"MEMORIA_AUTH": "api-key"}}


async def _new_key(store_url: str) -> str:
    async with open_store(store_url) as store:
        issued = issue_key("bench", "bench/auth.py", utc_now())
        await store.create_key(issued.record)
        return issued.key


def _measure(store_url: str, work_dir: Path, calls: int, runs: int) -> dict[str, dict[str, float]]:
    key = asyncio.run(_new_key(store_url))
    servers, stubs = {}, {}
    try:
        for mode, env in MODES.items():
            servers[mode] = ServerProcess(
                store_url, work_dir / mode, {"MEMORIA_ACCESS_LOG": "false", **env}
            ).start()
            # Both send the key (none ignores it): the client's work is the same.
            stubs[mode] = Stubs.connect(servers[mode].address, api_key=key)
            stubs[mode].memory.AddMemory(
                pb.AddMemoryRequest(session_id=f"warm-up-{mode}", messages=SEED_CONVERSATION)
            )
            time_calls(stubs[mode], 200)
        medians: dict[str, dict[str, list[float]]] = {mode: {} for mode in MODES}
        print(f"store {store_url}, {calls} sequential calls per RPC per run")
        for run in range(1, runs + 1):
            # Alternate which server goes first: on FerretDB every call gets slower as
            # the database grows, and the second of each pair would pay for it.
            for mode in list(MODES)[:: 1 if run % 2 else -1]:
                cells = []
                for rpc, samples in time_calls(stubs[mode], calls).items():
                    median = statistics.median(samples) * 1000
                    medians[mode].setdefault(rpc, []).append(median)
                    cells.append(f"{rpc} median {median:.3f} ms")
                print(f"  run {run} auth {mode:7}: " + " | ".join(cells))
    finally:
        for each in stubs.values():
            each.close()
        for server in servers.values():
            server.stop()
    return {
        mode: {rpc: statistics.median(values) for rpc, values in figures.items()}
        for mode, figures in medians.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", choices=["sqlite", "mongodb"], default="sqlite")
    parser.add_argument("--calls", type=int, default=1000, help="calls per RPC per run")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as work,
        fresh_store_url(args.store, Path(work)) as url,
    ):
        results = _measure(url, Path(work), args.calls, args.runs)
    print(f"median of {args.runs} run medians, one call in flight ({args.store}):")
    for rpc in results["none"]:
        without, with_key = results["none"][rpc], results["api-key"][rpc]
        print(
            f"  {rpc:9} auth none {without:.3f} ms | api-key {with_key:.3f} ms"
            f" | added {with_key - without:+.3f} ms"
        )


if __name__ == "__main__":
    main()
