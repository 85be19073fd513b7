"""MEMORIA_AUTH=api-key through a real server: who gets in, what the refusals say."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from memoria.v1 import memory_service_pb2 as pb
from memoria.v1 import session_service_pb2, user_service_pb2

from bench.harness.requests import message
from bench.harness.server_process import ServerProcess
from bench.harness.stubs import Stubs
from tests.support.errors import call_error, error_info
from tests.support.keys import create_key, key_id, keys_command, wait_for_refusal
from tests.support.stores import StoreUrls

UNKNOWN_KEY = "mk_" + "a" * 12 + "_" + "b" * 52


@pytest.fixture(scope="module")
def store_url(store_urls: StoreUrls) -> str:
    return store_urls.fresh("sqlite")


@pytest.fixture(scope="module")
def keyed_server(
    store_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    env = {"MEMORIA_AUTH": "api-key", "MEMORIA_KEY_CACHE_SECONDS": "0.5"}
    server = ServerProcess(store_url, tmp_path_factory.mktemp("keyed"), env).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def acme_key(store_url: str) -> str:
    return create_key(store_url, "acme", "integration tests")


def test_start_up_line_names_the_auth_mode(keyed_server: ServerProcess) -> None:
    assert keyed_server.wait_for_log("(plaintext, auth api-key, store sqlite:///")


def test_a_valid_key_gets_in_and_is_logged_without_its_secret(
    keyed_server: ServerProcess, acme_key: str
) -> None:
    stubs = Stubs.connect(keyed_server.address, api_key=acme_key)
    added = stubs.memory.AddMemory(
        pb.AddMemoryRequest(session_id="keyed", messages=[message("hello")])
    )
    assert added.messages[0].sequence == 1
    stubs.close()
    assert keyed_server.wait_for_log(f"ms tenant=acme key={key_id(acme_key)} session=keyed ")
    secret = acme_key.split("_")[2]
    assert not any(secret in line for line in keyed_server.log)


@pytest.mark.parametrize(
    ("metadata", "reason", "text"),
    [
        ([], "API_KEY_MISSING", "missing API key: send the metadata 'authorization: Bearer <key>'"),
        (
            [("authorization", "Basic dXNlcjpwYXNz")],
            "API_KEY_MALFORMED",
            "malformed authorization metadata: expected 'Bearer <key>'",
        ),
        (
            [("authorization", "Bearer sk-not-ours-0123456789")],
            "API_KEY_MALFORMED",
            "malformed API key: expected 'authorization: Bearer mk_<key id>_<secret>'",
        ),
        (
            [("authorization", f"Bearer {UNKNOWN_KEY}")],
            "API_KEY_UNKNOWN",
            "unknown API key (key id aaaaaaaaaaaa)",
        ),
    ],
)
def test_refusals_say_which_problem_without_echoing_the_key(
    keyed_server: ServerProcess, metadata: list[tuple[str, str]], reason: str, text: str
) -> None:
    stubs = Stubs.connect(keyed_server.address)
    request = pb.GetMemoryRequest(session_id="keyed")
    error = call_error(lambda: stubs.memory.GetMemory(request, metadata=tuple(metadata)))
    stubs.close()
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error.details() == text
    assert error_info(error)["reason"] == reason
    assert "b" * 52 not in text and "0123456789" not in text


def test_every_kind_of_rpc_is_guarded(keyed_server: ServerProcess) -> None:
    """Unary, server-streaming and client-streaming calls are all refused without a key."""
    stubs = Stubs.connect(keyed_server.address)
    calls = [
        lambda: stubs.sessions.GetSession(session_service_pb2.GetSessionRequest(session_id="x")),
        lambda: stubs.users.ListUsers(user_service_pb2.ListUsersRequest()),
        lambda: list(stubs.memory.StreamMessages(pb.StreamMessagesRequest(session_id="keyed"))),
        lambda: stubs.memory.ImportMessages(iter([pb.ImportMessagesRequest(session_id="keyed")])),
    ]
    for call in calls:
        error = call_error(call)
        assert (error.code(), error_info(error)["reason"]) == (
            grpc.StatusCode.UNAUTHENTICATED,
            "API_KEY_MISSING",
        )
    stubs.close()
    assert keyed_server.wait_for_log("ImportMessages UNAUTHENTICATED ")
    [line] = keyed_server.access_log("ImportMessages")
    assert "ms tenant=- key=- " in line and 'error="missing API key: send the' in line


def test_health_and_reflection_need_no_key(keyed_server: ServerProcess) -> None:
    stubs = Stubs.connect(keyed_server.address)
    health = stubs.health.Check(health_pb2.HealthCheckRequest())
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    reflection = reflection_pb2_grpc.ServerReflectionStub(stubs.channel)
    [listed] = reflection.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")])
    )
    services = {s.name for s in listed.list_services_response.service}
    assert "memoria.v1.MemoryService" in services
    stubs.close()


def test_revoked_key_is_refused_as_revoked(keyed_server: ServerProcess, store_url: str) -> None:
    key = create_key(store_url, "acme", "to revoke")
    stubs = Stubs.connect(keyed_server.address, api_key=key)
    stubs.memory.AddMemory(pb.AddMemoryRequest(session_id="rev", messages=[message("x")]))
    assert keys_command(store_url, "revoke", key_id(key)).returncode == 0
    error = wait_for_refusal(stubs)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error.details() == f"revoked API key (key id {key_id(key)})"
    assert error_info(error)["reason"] == "API_KEY_REVOKED"
    stubs.close()


def test_each_key_acts_for_its_own_tenant(keyed_server: ServerProcess, store_url: str) -> None:
    """The same session id under two tenants' keys: two sessions, neither sees the other."""
    acme = Stubs.connect(keyed_server.address, api_key=create_key(store_url, "acme"))
    globex = Stubs.connect(keyed_server.address, api_key=create_key(store_url, "globex"))
    try:
        acme.memory.AddMemory(pb.AddMemoryRequest(session_id="same-id", messages=[message("a")]))
        error = call_error(
            lambda: globex.memory.GetMemory(pb.GetMemoryRequest(session_id="same-id"))
        )
        assert error.code() == grpc.StatusCode.NOT_FOUND
        [stored] = globex.memory.AddMemory(
            pb.AddMemoryRequest(session_id="same-id", messages=[message("g")])
        ).messages
        assert stored.sequence == 1
        memory = acme.memory.GetMemory(pb.GetMemoryRequest(session_id="same-id"))
        assert [m.content for m in memory.messages] == ["a"]
    finally:
        acme.close()
        globex.close()
