"""SearchMemory through the generated stubs, against a real server (wordllama embedder)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import struct_pb2, timestamp_pb2
from grpc_health.v1 import health_pb2
from memoria.v1 import memory_service_pb2 as pb
from memoria.v1 import message_pb2
from memoria.v1 import session_service_pb2 as spb
from memoria.v1 import user_service_pb2 as upb

from bench.harness.requests import message
from bench.harness.server_process import ServerProcess
from bench.harness.stubs import Stubs
from tests.support.errors import call_error, error_info, field_violations
from tests.support.llm_endpoint import LlmEndpoint
from tests.support.search import search_indexed

CONVERSATION = [
    message("My invoice was charged twice this month", role="Jane"),
    message(
        "I refunded the duplicate payment on your bill",
        message_pb2.ROLE_TYPE_ASSISTANT,
        metadata={"topic": "billing", "ticket": {"priority": 2}},
    ),
    message("I love hiking in the Alps on weekends", role="Jane"),
    message("We should deploy the release to staging tonight", role="Jane"),
]


def add(stubs: Stubs, session_id: str, *messages: message_pb2.Message) -> None:
    stubs.memory.AddMemory(pb.AddMemoryRequest(session_id=session_id, messages=messages))


def merged(request: pb.SearchMemoryRequest, **changes: Any) -> pb.SearchMemoryRequest:
    """A copy of ``request`` with ``changes``."""
    copy = pb.SearchMemoryRequest()
    copy.CopyFrom(request)
    copy.MergeFrom(pb.SearchMemoryRequest(**changes))
    return copy


def contents(answer: pb.SearchMemoryResponse) -> list[str]:
    return [result.message.content for result in answer.results]


@pytest.mark.all_stores
def test_keyword_semantic_and_hybrid_search(stubs: Stubs, session_id: str) -> None:
    """Each search type finds the billing messages first; keyword names matched stems."""
    add(stubs, session_id, *CONVERSATION)
    request = pb.SearchMemoryRequest(session_id=session_id, query="charged twice on my bill")
    keyword = search_indexed(stubs, merged(request, search_type=pb.SEARCH_TYPE_KEYWORD))
    assert set(contents(keyword)) == {CONVERSATION[0].content, CONVERSATION[1].content}
    assert [list(r.matched_terms) for r in keyword.results] == [["charg", "twice"], ["bill"]]
    assert all(r.session_id == session_id and r.score > 0 for r in keyword.results)
    for search_type in (pb.SEARCH_TYPE_SEMANTIC, pb.SEARCH_TYPE_HYBRID):
        answer = search_indexed(stubs, merged(request, search_type=search_type))
        assert answer.search_type == search_type
        assert set(contents(answer)[:2]) == {CONVERSATION[0].content, CONVERSATION[1].content}
    default = search_indexed(stubs, request)
    assert default.search_type == pb.SEARCH_TYPE_HYBRID
    assert not default.truncated


@pytest.mark.all_stores
def test_filters_and_user_scope(stubs: Stubs, session_id: str) -> None:
    """Role, metadata and created_at filters, over all of a user's sessions."""
    user_id = f"user-{session_id}"
    stubs.users.CreateUser(upb.CreateUserRequest(user_id=user_id))
    for suffix in ("a", "b"):
        stubs.sessions.CreateSession(
            spb.CreateSessionRequest(session_id=f"{session_id}-{suffix}", user_id=user_id)
        )
        add(stubs, f"{session_id}-{suffix}", *CONVERSATION)
    scope = pb.SearchMemoryRequest(
        user_id=user_id, query="bill invoice", search_type=pb.SEARCH_TYPE_KEYWORD
    )
    both = search_indexed(stubs, scope)
    assert sorted(r.session_id for r in both.results) == sorted(
        [f"{session_id}-a", f"{session_id}-b"] * 2
    )
    priority = pb.MetadataCondition(path="ticket.priority", number=pb.NumberRange(gte=2))
    topic = pb.MetadataCondition(
        path="topic",
        any_of=pb.ScalarList(values=[struct_pb2.Value(string_value="billing")]),
    )
    filtered = stubs.memory.SearchMemory(
        merged(scope, metadata=pb.MetadataFilter(all_of=[priority, topic]))
    )
    assert contents(filtered) == [CONVERSATION[1].content] * 2
    users_only = stubs.memory.SearchMemory(merged(scope, role_types=[message_pb2.ROLE_TYPE_USER]))
    assert contents(users_only) == [CONVERSATION[0].content] * 2
    future = pb.TimeRange(start=timestamp_pb2.Timestamp(seconds=4_000_000_000))
    assert stubs.memory.SearchMemory(merged(scope, created_at=future)).results == []


@pytest.mark.all_stores
def test_deleted_messages_are_never_returned(stubs: Stubs, session_id: str) -> None:
    """DeleteMemory removes its messages from every search type at once."""
    add(stubs, session_id, *CONVERSATION)
    request = pb.SearchMemoryRequest(session_id=session_id, query="invoice")
    assert search_indexed(stubs, request).results
    stubs.memory.DeleteMemory(pb.DeleteMemoryRequest(session_id=session_id))
    for search_type in (pb.SEARCH_TYPE_KEYWORD, pb.SEARCH_TYPE_SEMANTIC, pb.SEARCH_TYPE_HYBRID):
        answer = stubs.memory.SearchMemory(merged(request, search_type=search_type))
        assert answer.results == []


def test_malformed_requests_get_field_violations(stubs: Stubs, session_id: str) -> None:
    """Every malformed part of a request is named in a field violation."""
    add(stubs, session_id, CONVERSATION[0])
    bad = pb.SearchMemoryRequest(
        session_id=session_id,
        query="",
        limit=101,
        mmr_lambda=1.5,
        role_types=[message_pb2.RoleType.ValueType(99)],
        metadata=pb.MetadataFilter(
            all_of=[
                pb.MetadataCondition(path="a..b", exists=True),
                pb.MetadataCondition(
                    path="x", equals=struct_pb2.Value(null_value=struct_pb2.NULL_VALUE)
                ),
                pb.MetadataCondition(path="y"),
                pb.MetadataCondition(path="z", number=pb.NumberRange()),
            ]
        ),
        created_at=pb.TimeRange(
            start=timestamp_pb2.Timestamp(seconds=20), end=timestamp_pb2.Timestamp(seconds=10)
        ),
    )
    error = call_error(lambda: stubs.memory.SearchMemory(bad))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(error)) == {
        "query",
        "limit",
        "mmr_lambda",
        "role_types[0]",
        "metadata.all_of[0].path",
        "metadata.all_of[1].equals",
        "metadata.all_of[2]",
        "metadata.all_of[3].number",
        "created_at",
    }
    both = call_error(
        lambda: stubs.memory.SearchMemory(
            pb.SearchMemoryRequest(session_id=session_id, user_id="u", query="x")
        )
    )
    assert set(field_violations(both)) == {"session_id"}
    missing = call_error(
        lambda: stubs.memory.SearchMemory(pb.SearchMemoryRequest(session_id="nope", query="x"))
    )
    assert (missing.code(), missing.details()) == (
        grpc.StatusCode.NOT_FOUND,
        "session 'nope' not found",
    )


@pytest.fixture
def keyword_only(store_url: str, tmp_path: Path) -> Iterator[Stubs]:
    server = ServerProcess(store_url, tmp_path, {"MEMORIA_EMBEDDER": "none"}).start()
    stubs = Stubs.connect(server.address)
    yield stubs
    stubs.close()
    server.stop()


@pytest.fixture
def store_url(store_kind: str, store_urls: object) -> str:
    url: str = store_urls.fresh(store_kind)  # type: ignore[attr-defined]
    return url


def test_without_an_embedder_search_is_keyword_only(keyword_only: Stubs, session_id: str) -> None:
    """MEMORIA_EMBEDDER=none: unspecified means keyword; semantic is FAILED_PRECONDITION."""
    add(keyword_only, session_id, *CONVERSATION)
    answer = search_indexed(
        keyword_only, pb.SearchMemoryRequest(session_id=session_id, query="bill")
    )
    assert (answer.search_type, contents(answer)) == (
        pb.SEARCH_TYPE_KEYWORD,
        [CONVERSATION[1].content],
    )
    error = call_error(
        lambda: keyword_only.memory.SearchMemory(
            pb.SearchMemoryRequest(
                session_id=session_id, query="bill", search_type=pb.SEARCH_TYPE_SEMANTIC
            )
        )
    )
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(error)["reason"] == "EMBEDDER_DISABLED"


@pytest.fixture
def endpoint() -> Iterator[LlmEndpoint]:
    running = LlmEndpoint().start()
    yield running
    running.stop()


def test_a_failing_embedder_is_retried_reported_and_keyword_search_goes_on(
    store_url: str, tmp_path: Path, endpoint: LlmEndpoint
) -> None:
    """An embeddings endpoint that fails: health says so, writes and keyword search go
    on, and semantic indexing catches up once it answers again."""
    endpoint.failing = True
    server = ServerProcess(
        store_url,
        tmp_path,
        {
            "MEMORIA_EMBEDDER": "openai",
            "MEMORIA_EMBEDDINGS_BASE_URL": endpoint.base_url,
            "MEMORIA_EMBEDDINGS_MODEL": "tiny-embedder",
            "MEMORIA_SUMMARY_RETRY_INITIAL": "0.05",
            "MEMORIA_SUMMARY_RETRY_MAX": "0.2",
            "NO_PROXY": "127.0.0.1",
        },
    ).start()
    stubs = Stubs.connect(server.address)
    try:
        add(stubs, "flaky", *CONVERSATION)
        wait_for(lambda: health(stubs, EMBEDDER) == NOT_SERVING)
        wait_for(lambda: endpoint.failures >= 3)
        assert health(stubs, "memoria.v1.MemoryService") == SERVING
        request = pb.SearchMemoryRequest(session_id="flaky", query="bill")
        keyword = search_indexed(stubs, merged(request, search_type=pb.SEARCH_TYPE_KEYWORD))
        assert contents(keyword) == [CONVERSATION[1].content]
        fallback = stubs.memory.SearchMemory(request)  # unspecified: keyword meanwhile
        assert (fallback.search_type, contents(fallback)) == (
            pb.SEARCH_TYPE_KEYWORD,
            [CONVERSATION[1].content],
        )
        semantic = merged(request, search_type=pb.SEARCH_TYPE_SEMANTIC)
        error = call_error(lambda: stubs.memory.SearchMemory(semantic))
        assert error.code() == grpc.StatusCode.UNAVAILABLE
        assert error_info(error)["reason"] == "EMBEDDER_FAILING"
        assert server.wait_for_log("embedder openai-compatible")

        endpoint.failing = False
        wait_for(lambda: health(stubs, EMBEDDER) == SERVING)
        recovered = search_indexed(stubs, semantic)
        assert len(recovered.results) == len(CONVERSATION)
    finally:
        stubs.close()
        server.stop()


EMBEDDER = "memoria.v1.Embedder"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def health(stubs: Stubs, service: str) -> int:
    status: int = stubs.health.Check(health_pb2.HealthCheckRequest(service=service)).status
    return status


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)
