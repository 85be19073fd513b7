"""The README's grpcurl walkthrough works as written (only the address differs)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

from tests.support.server_process import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
GRPCURL_DIR = ROOT / ".cache" / "bin"


def walkthrough_blocks(name: str = "walkthrough") -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split(f"<!-- {name}:start -->")[1].split(f"<!-- {name}:end -->")[0]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.S)


def run_block(block: str, address: str) -> str:
    assert (GRPCURL_DIR / "grpcurl").exists(), "grpcurl missing: run `make tools`"
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block.replace("localhost:50051", address)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PATH": f"{GRPCURL_DIR}:{os.environ['PATH']}"},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout + result.stderr


def test_grpcurl_walkthrough(server: ServerProcess) -> None:
    listing, add, get, error = walkthrough_blocks()

    services = run_block(listing, server.address).split()
    assert {
        "memoria.v1.MemoryService",
        "memoria.v1.SessionService",
        "grpc.health.v1.Health",
    } <= set(services)

    stored = json.loads(run_block(add, server.address))["messages"]
    assert [m["sequence"] for m in stored] == ["1", "2", "3"]
    assert all(m["token_count"] > 0 and m["created_at"] for m in stored)
    assert stored[2]["metadata"] == {"foo": "bar"}
    retried = json.loads(run_block(add, server.address))["messages"]
    assert retried == stored  # the walkthrough's promise: running it twice stores nothing twice

    memory = json.loads(run_block(get, server.address))
    assert [m["role"] for m in memory["messages"]] == ["Jane", "HistoryBot", "Jane"]
    assert int(memory["token_count"]) == sum(m["token_count"] for m in stored)

    printed = run_block(error, server.address)
    assert "Code: InvalidArgument" in printed
    assert '"field": "session_id"' in printed


def test_grpcurl_perpetual_example(server: ServerProcess) -> None:
    [block] = walkthrough_blocks("perpetual")
    deadline = time.monotonic() + 20
    memory = json.loads(run_block(block, server.address))
    while "summary" not in memory:  # the fold runs in the background
        assert time.monotonic() < deadline, memory
        time.sleep(0.1)
        memory = json.loads(run_block(block.split("sleep 1\n", 1)[1], server.address))
    summary = memory["summary"]
    assert (summary["last_message_sequence"], summary["version"]) == ("14", "1")
    assert summary["content"].startswith("Jane: Which Octavia Butler book")
    assert "HistoryBot: " in summary["content"]
    assert [m["sequence"] for m in memory["messages"]] == [str(n) for n in range(15, 21)]
    assert int(memory["token_count"]) == summary["token_count"] + sum(
        m["token_count"] for m in memory["messages"]
    )
