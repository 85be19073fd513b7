"""Perpetual memory end to end: real server processes, generated stubs, a local LLM endpoint."""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2
from memoria.v1 import memory_service_pb2 as pb
from memoria.v1 import message_pb2

from bench.harness.requests import message
from bench.harness.server_process import ServerProcess
from bench.harness.stubs import Stubs
from tests.support.errors import error_info
from tests.support.llm_endpoint import LlmEndpoint
from tests.support.stores import StoreUrls
from tests.support.streams import history, import_requests

# Storage behaviour through the server: on every store kind.
pytestmark = pytest.mark.all_stores

WINDOW = 12
SUMMARIZER = "memoria.v1.Summarizer"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
# Short intervals so that retries and lease take-overs happen within a test's time.
FAST = {
    "MEMORIA_SUMMARY_RETRY_INITIAL": "0.1",
    "MEMORIA_SUMMARY_RETRY_MAX": "0.4",
    "MEMORIA_SUMMARY_LEASE": "1",
    "NO_PROXY": "127.0.0.1",
}
# Each summary saved is logged at debug level.
LOGGED = {**FAST, "MEMORIA_LOG_LEVEL": "debug"}
SAVED = re.compile(r"summary saved: session=(\S+) version=(\d+) through=(\d+)")


def turns(count: int, start: int = 1) -> list[message_pb2.Message]:
    return [
        message(
            f"Turn {n}: what did Octavia Butler write in {1970 + n}? She wrote novel {n}.",
            message_pb2.ROLE_TYPE_USER if n % 2 else message_pb2.ROLE_TYPE_ASSISTANT,
            role="Jane" if n % 2 else "HistoryBot",
        )
        for n in range(start, start + count)
    ]


def perpetual(stubs: Stubs, session_id: str) -> pb.GetMemoryResponse:
    return stubs.memory.GetMemory(
        pb.GetMemoryRequest(session_id=session_id, memory_type=pb.MEMORY_TYPE_PERPETUAL)
    )


def assert_no_gap(memory: pb.GetMemoryResponse, total: int) -> None:
    """Every message 1..total is covered by the summary or returned, in order."""
    covered = memory.summary.last_message_sequence if memory.HasField("summary") else 0
    returned = [m.sequence for m in memory.messages]
    assert returned == list(range(covered + 1, total + 1))
    expected_tokens = sum(m.token_count for m in memory.messages) + memory.summary.token_count
    assert memory.token_count == expected_tokens


def wait_caught_up(
    stubs: Stubs, session_id: str, total: int, timeout: float = 30.0
) -> pb.GetMemoryResponse:
    """Polls GetMemory until the summary leaves at most a window, checking for gaps on the way."""
    deadline = time.monotonic() + timeout
    while True:
        memory = perpetual(stubs, session_id)
        if total > WINDOW:
            assert_no_gap(memory, total)
        if memory.HasField("summary") and len(memory.messages) <= WINDOW:
            return memory
        assert time.monotonic() < deadline, f"not caught up: {memory.summary}"
        time.sleep(0.05)


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def health(stubs: Stubs, service: str) -> int:
    status: int = stubs.health.Check(health_pb2.HealthCheckRequest(service=service)).status
    return status


def test_forty_messages_fold_into_a_summary(stubs: Stubs, session_id: str) -> None:
    for start in range(1, 41, 4):
        stubs.memory.AddMemory(pb.AddMemoryRequest(session_id=session_id, messages=turns(4, start)))
        assert_no_gap(perpetual(stubs, session_id), start + 3)
    memory = wait_caught_up(stubs, session_id, 40)
    assert memory.summary.last_message_sequence >= 40 - WINDOW
    assert 0 < memory.summary.token_count <= 512
    assert "Jane:" in memory.summary.content and "HistoryBot:" in memory.summary.content
    assert all("summary" not in m.metadata for m in memory.messages)
    window = stubs.memory.GetMemory(pb.GetMemoryRequest(session_id=session_id))
    assert [m.sequence for m in window.messages] == list(range(29, 41))
    assert not window.HasField("summary")
    assert health(stubs, SUMMARIZER) == SERVING


def test_a_500_message_batch_is_folded_in_chunks(stubs: Stubs, session_id: str) -> None:
    stubs.memory.AddMemory(pb.AddMemoryRequest(session_id=session_id, messages=turns(500)))
    assert_no_gap(perpetual(stubs, session_id), 500)
    memory = wait_caught_up(stubs, session_id, 500)
    assert memory.summary.last_message_sequence == 500 - WINDOW // 2
    assert memory.summary.version >= 2  # more than one chunk of 4000 tokens
    assert memory.summary.token_count <= 512


def test_imported_history_is_folded_too(stubs: Stubs, session_id: str) -> None:
    report = stubs.memory.ImportMessages(import_requests(session_id, history(300), per_request=70))
    assert report.stored == 300
    memory = wait_caught_up(stubs, session_id, 300)
    assert memory.summary.last_message_sequence == 300 - WINDOW // 2
    assert "Jane:" in memory.summary.content


def test_delete_memory_deletes_the_summary(stubs: Stubs, session_id: str) -> None:
    stubs.memory.AddMemory(pb.AddMemoryRequest(session_id=session_id, messages=turns(30)))
    wait_caught_up(stubs, session_id, 30)
    stubs.memory.DeleteMemory(pb.DeleteMemoryRequest(session_id=session_id))
    memory = perpetual(stubs, session_id)
    assert not memory.HasField("summary") and list(memory.messages) == []


@pytest.fixture
def endpoint() -> Iterator[LlmEndpoint]:
    running = LlmEndpoint().start()
    yield running
    running.stop()


@pytest.fixture
def store_url(store_kind: str, store_urls: StoreUrls) -> str:
    return store_urls.fresh(store_kind)


def llm_server(store_url: str, work_dir: Path, endpoint: LlmEndpoint) -> ServerProcess:
    return ServerProcess(
        store_url,
        work_dir,
        {
            **FAST,
            "MEMORIA_SUMMARIZER": "openai",
            "MEMORIA_LLM_BASE_URL": endpoint.base_url,
            "MEMORIA_LLM_MODEL": "tiny-model",
            "MEMORIA_LLM_API_KEY": "sk-memoria-test",
            "MEMORIA_LLM_TIMEOUT": "60",
        },
    )


def test_llm_summarizer_folds_previous_summary_and_evicted_messages(
    store_url: str, tmp_path: Path, endpoint: LlmEndpoint
) -> None:
    server = llm_server(store_url, tmp_path, endpoint).start()
    stubs = Stubs.connect(server.address)
    try:
        stubs.memory.AddMemory(pb.AddMemoryRequest(session_id="llm", messages=turns(20)))
        first = wait_caught_up(stubs, "llm", 20)
        assert first.summary.content == "Summary number 1 of the talk."
        assert first.summary.last_message_sequence == 14
        stubs.memory.AddMemory(pb.AddMemoryRequest(session_id="llm", messages=turns(10, 21)))
        wait_for(lambda: perpetual(stubs, "llm").summary.version == 2)
        second = wait_caught_up(stubs, "llm", 30)
        assert second.summary.last_message_sequence == 24
    finally:
        stubs.close()
        server.stop()
    first_call, second_call = endpoint.requests
    for call in (first_call, second_call):
        assert call.path == "/v1/chat/completions"
        assert call.body["model"] == "tiny-model"
        assert call.headers["authorization"] == "Bearer sk-memoria-test"
    assert "Turn 1:" in first_call.prompt and "Turn 14:" in first_call.prompt
    assert "Turn 15:" not in first_call.prompt
    assert "Jane (user): Turn 1:" in first_call.prompt
    assert "Summary number 1 of the talk." in second_call.prompt
    assert "Turn 15:" in second_call.prompt and "Turn 24:" in second_call.prompt
    assert "Turn 14:" not in second_call.prompt and "Turn 25:" not in second_call.prompt


def test_failing_llm_is_retried_and_reported_in_health(
    store_url: str, tmp_path: Path, endpoint: LlmEndpoint
) -> None:
    endpoint.failing = True
    server = llm_server(store_url, tmp_path, endpoint).start()
    stubs = Stubs.connect(server.address)
    try:
        stubs.memory.AddMemory(pb.AddMemoryRequest(session_id="flaky", messages=turns(30)))
        wait_for(lambda: health(stubs, SUMMARIZER) == NOT_SERVING)
        wait_for(lambda: endpoint.failures >= 3)
        assert health(stubs, "") == SERVING
        assert health(stubs, "memoria.v1.MemoryService") == SERVING
        # Meanwhile nothing is lost or blocked: messages are stored and all returned.
        stubs.memory.AddMemory(pb.AddMemoryRequest(session_id="flaky", messages=turns(5, 31)))
        lagging = perpetual(stubs, "flaky")
        assert not lagging.HasField("summary")
        assert [m.sequence for m in lagging.messages] == list(range(1, 36))  # no gap
        assert server.wait_for_log("summarizer openai-compatible (tiny-model) failed")

        endpoint.failing = False
        memory = wait_caught_up(stubs, "flaky", 35)
        assert memory.summary.last_message_sequence == 35 - WINDOW // 2
        wait_for(lambda: health(stubs, SUMMARIZER) == SERVING)
        assert server.wait_for_log("works again")
    finally:
        stubs.close()
        server.stop()


def test_perpetual_memory_far_behind_fails_fast_until_folding_catches_up(
    store_url: str, tmp_path: Path, endpoint: LlmEndpoint
) -> None:
    """Over 1,000 unsummarized messages after the summary: UNAVAILABLE, never a gap
    and never an unbounded response; the window still answers meanwhile."""
    server = llm_server(store_url, tmp_path, endpoint).start()
    stubs = Stubs.connect(server.address)
    try:
        stubs.memory.AddMemory(pb.AddMemoryRequest(session_id="behind", messages=turns(20)))
        assert wait_caught_up(stubs, "behind", 20).summary.last_message_sequence == 14
        endpoint.failing = True
        for start in (21, 521):
            stubs.memory.AddMemory(
                pb.AddMemoryRequest(session_id="behind", messages=turns(500, start))
            )
        with pytest.raises(grpc.RpcError) as raised:
            perpetual(stubs, "behind")
        assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
        assert error_info(raised.value) == {
            "reason": "SUMMARY_BEHIND",
            "session_id": "behind",
            "summarized_through": "14",
            "max_unsummarized": "1000",
        }
        window = stubs.memory.GetMemory(pb.GetMemoryRequest(session_id="behind"))
        assert [m.sequence for m in window.messages] == list(range(1009, 1021))

        endpoint.failing = False
        wait_for(lambda: summary_behind(stubs, "behind") is False, timeout=60)
        memory = wait_caught_up(stubs, "behind", 1020, timeout=60)
        assert memory.summary.last_message_sequence == 1020 - WINDOW // 2
    finally:
        stubs.close()
        server.stop()


def summary_behind(stubs: Stubs, session_id: str) -> bool:
    try:
        perpetual(stubs, session_id)
    except grpc.RpcError as error:
        if error_info(error).get("reason") == "SUMMARY_BEHIND":
            return True
        raise
    return False


def test_summarization_resumes_after_kill_9(
    store_url: str, tmp_path: Path, endpoint: LlmEndpoint
) -> None:
    endpoint.released.clear()  # the LLM holds its answer: the server dies mid-call
    server = llm_server(store_url, tmp_path, endpoint).start()
    stubs = Stubs.connect(server.address)
    stubs.memory.AddMemory(pb.AddMemoryRequest(session_id="crash", messages=turns(40)))
    wait_for(lambda: len(endpoint.requests) == 1)
    stubs.close()
    assert server.stop(signal.SIGKILL) == -signal.SIGKILL
    endpoint.released.set()

    server.start()  # same store; the dead process's lease expires after a second
    stubs = Stubs.connect(server.address)
    try:
        memory = wait_caught_up(stubs, "crash", 40)
        assert memory.summary.last_message_sequence == 40 - WINDOW // 2
        assert server.wait_for_log("resuming summarization of 1 session")
    finally:
        stubs.close()
        server.stop()


@contextmanager
def two_servers(
    store_url: str, tmp_path: Path
) -> Iterator[tuple[list[ServerProcess], list[Stubs]]]:
    """Two server processes on one store, each with a client; stopped on exit."""
    servers = [ServerProcess(store_url, tmp_path / name, LOGGED).start() for name in ("one", "two")]
    clients = [Stubs.connect(server.address) for server in servers]
    try:
        yield servers, clients
    finally:
        for client in clients:
            client.close()
        for server in servers:
            server.stop()


def test_two_servers_on_one_store_keep_one_linear_summary_history(
    store_url: str, tmp_path: Path
) -> None:
    with two_servers(store_url, tmp_path) as (servers, clients):
        total = 0
        for batch in range(12):
            client = clients[batch % 2]
            client.memory.AddMemory(
                pb.AddMemoryRequest(session_id="shared", messages=turns(7, total + 1))
            )
            total += 7
            assert_no_gap(perpetual(clients[(batch + 1) % 2], "shared"), total)
        final = wait_caught_up(clients[0], "shared", total)
        assert final.summary.last_message_sequence == total - WINDOW // 2
        assert perpetual(clients[1], "shared").summary == final.summary
    assert_linear_history(servers, "shared", final.summary.version)


def test_two_servers_racing_on_one_session(store_url: str, tmp_path: Path) -> None:
    """Both servers take appends to one session at the same time and both fold it."""
    with two_servers(store_url, tmp_path) as (servers, clients):
        with ThreadPoolExecutor(len(clients)) as pool:
            sent = pool.map(
                lambda client: [
                    client.memory.AddMemory(
                        pb.AddMemoryRequest(session_id="raced", messages=turns(5))
                    )
                    for _ in range(10)
                ],
                clients,
            )
            assert sum(len(reply.messages) for replies in sent for reply in replies) == 100
        # Racing appends may leave unused positions: compare with what is stored.
        listed = clients[0].memory.ListMessages(
            pb.ListMessagesRequest(session_id="raced", page_size=1000)
        )
        stored = [m.sequence for m in listed.messages]
        assert len(stored) == 100
        deadline = time.monotonic() + 30
        while True:
            memory = perpetual(clients[1], "raced")
            covered = memory.summary.last_message_sequence
            assert [m.sequence for m in memory.messages] == [n for n in stored if n > covered]
            if memory.HasField("summary") and len(memory.messages) <= WINDOW:
                break
            assert time.monotonic() < deadline, f"not caught up: {memory.summary}"
            time.sleep(0.05)
        assert perpetual(clients[0], "raced").summary == memory.summary
    assert_linear_history(servers, "raced", memory.summary.version)


def assert_linear_history(servers: list[ServerProcess], session_id: str, version: int) -> None:
    """The servers' logs show each summary version 1..version saved exactly once, and
    the covered point moving only forward."""

    def saved() -> list[tuple[int, int]]:
        return [
            (int(found.group(2)), int(found.group(3)))
            for server in servers
            for line in server.log
            if (found := SAVED.search(line)) and found.group(1) == session_id
        ]

    # A summary is readable a moment before its log line reaches the test.
    wait_for(lambda: any(saved_version >= version for saved_version, _ in saved()))
    versions = sorted(saved_version for saved_version, _ in saved())
    assert versions == list(range(1, version + 1))
    throughs = [through for _, through in sorted(saved())]
    assert throughs == sorted(set(throughs))
