"""The grpcurl examples of the README and docs/ work as written (only the address differs).

Each example is a set of ``sh`` blocks between ``<!-- name:start -->`` and
``<!-- name:end -->`` markers in one Markdown file.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.harness.server_process import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
GRPCURL_DIR = ROOT / ".cache" / "bin"


def marked_blocks(name: str, document: str = "README.md") -> list[str]:
    """The ``sh`` blocks between the ``name`` markers of ``document``."""
    text = (ROOT / document).read_text()
    section = text.split(f"<!-- {name}:start -->")[1].split(f"<!-- {name}:end -->")[0]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.S)


def run_block(
    block: str,
    address: str,
    *,
    placeholder: str = "localhost:50051",
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """Runs ``block`` with ``address`` in place of ``placeholder``, grpcurl and this
    Python on the PATH; its stdout and stderr."""
    assert (GRPCURL_DIR / "grpcurl").exists(), "grpcurl missing: run `make tools`"
    path = f"{GRPCURL_DIR}:{Path(sys.executable).parent}:{os.environ['PATH']}"
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block.replace(placeholder, address)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={**os.environ, **(env or {}), "PATH": path},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout + result.stderr


def json_objects(text: str) -> list[Any]:
    """The JSON objects grpcurl prints one after the other (one per streamed response)."""
    decoder = json.JSONDecoder()
    objects, position = [], 0
    while position < len(text.rstrip()):
        found, position = decoder.raw_decode(text, position)
        objects.append(found)
        while position < len(text) and text[position].isspace():
            position += 1
    return objects


def test_grpcurl_walkthrough(server: ServerProcess) -> None:
    listing, add, get, error = marked_blocks("walkthrough")

    services = run_block(listing, server.address).split()
    assert {
        "memoria.v1.MemoryService",
        "memoria.v1.SessionService",
        "memoria.v1.UserService",
        "grpc.health.v1.Health",
    } <= set(services)

    stored = json.loads(run_block(add, server.address))["messages"]
    assert [m["sequence"] for m in stored] == ["1", "2", "3"]
    assert all(m["token_count"] > 0 and m["created_at"] for m in stored)
    assert not any("content" in m for m in stored)  # MESSAGE_VIEW_BASIC, the default
    retried = json.loads(run_block(add, server.address))["messages"]
    assert retried == stored  # the walkthrough's promise: running it twice stores nothing twice

    memory = json.loads(run_block(get, server.address))
    assert [m["role"] for m in memory["messages"]] == ["Jane", "HistoryBot", "Jane"]
    assert memory["messages"][2]["metadata"] == {"foo": "bar"}
    assert int(memory["token_count"]) == sum(m["token_count"] for m in stored)

    printed = run_block(error, server.address)
    assert "Code: InvalidArgument" in printed
    assert re.search(r'"field":\s*"session_id"', printed)  # the decoded BadRequest


def test_grpcurl_import_and_export(server: ServerProcess) -> None:
    import_, stream = marked_blocks("import-export", "docs/streaming.md")
    imported = json.loads(run_block(import_, server.address))
    assert (imported["received"], imported["stored"]) == ("2", "2")
    again = json.loads(run_block(import_, server.address))
    # As the docs say; grpcurl leaves out fields that are zero.
    assert (again.get("stored", "0"), again["duplicates"]) == ("0", "2")
    exported = json_objects(run_block(stream, server.address))
    messages = [m for response in exported for m in response.get("messages", [])]
    assert [m["content"] for m in messages] == [
        "Recommend a first Octavia Butler novel.",
        "Start with Kindred (1979).",
    ]
    assert messages[0]["created_at"] == "2024-03-01T09:00:00Z"
    assert exported[-1]["last_sequence"] == "2" and exported[-1]["caught_up"]


def test_grpcurl_perpetual_example(server: ServerProcess) -> None:
    [block] = marked_blocks("perpetual", "docs/perpetual-memory.md")
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


def test_grpcurl_search_example(server: ServerProcess) -> None:
    [block] = marked_blocks("search", "docs/search.md")
    answer = json.loads(run_block(block, server.address))
    search_again = "grpcurl" + block.split("sleep 1\ngrpcurl", 1)[1]
    deadline = time.monotonic() + 20
    while answer.get("unindexed_messages"):  # indexing runs in the background
        assert time.monotonic() < deadline, answer
        time.sleep(0.1)
        answer = json.loads(run_block(search_again, server.address))
    [result] = answer["results"]
    assert result["message"]["content"] == "I refunded the duplicate payment on your bill"
    assert (result["session_id"], result["matched_terms"]) == ("support-chat", ["bill"])
    assert answer["search_type"] == "SEARCH_TYPE_HYBRID"


def test_grpcurl_update_mask(server: ServerProcess) -> None:
    create, update, refused = marked_blocks("update-mask", "docs/api.md")
    created = json.loads(run_block(create, server.address))["session"]
    assert created["metadata"] == {"topic": "octavia-butler"}
    updated = json.loads(run_block(update, server.address))["session"]
    assert updated["metadata"] == {"topic": "kindred", "language": "en"}
    assert updated["created_at"] == created["created_at"]
    printed = run_block(refused, server.address)
    assert "Code: InvalidArgument" in printed
    assert re.search(r'"field":\s*"update_mask"', printed)
    assert "unsupported field(s) userId" in printed


def test_grpcurl_describe_shows_the_documentation(server: ServerProcess) -> None:
    [block] = marked_blocks("describe", "docs/api.md")
    printed = run_block(block, server.address)
    # Comments of the service, of an RPC, of a message and of a field, from protos/.
    assert "// MemoryService stores the messages of sessions and returns prompt-ready" in printed
    assert "// Appends messages to a session, creating the session when it does not" in printed
    assert "// Request of MemoryService.GetMemory." in printed
    assert "// Number of most recent messages to return, 0 to 1000; 0 means the server's" in printed
