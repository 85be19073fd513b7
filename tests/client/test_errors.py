"""One exception tree, mapped from status codes and google.rpc details; which calls are
retried, and the API key on every call."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import memoria_client
import pytest
from google.rpc import error_details_pb2
from memoria_client import (
    AlreadyExistsError,
    AsyncMemoriaClient,
    AuthenticationError,
    CancelledCallError,
    DeadlineExceededError,
    FailedPreconditionError,
    FieldViolation,
    InternalError,
    InvalidArgumentError,
    MemoriaClient,
    MemoriaError,
    Message,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    SummaryBehindError,
    UnavailableError,
)
from memoria_client._proto import memory_service_pb2

from tests.client.fake_server import Answer, FakeServer, failure

ERROR_CLASSES = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.UNAUTHENTICATED: AuthenticationError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.CANCELLED: CancelledCallError,
    grpc.StatusCode.INTERNAL: InternalError,
    grpc.StatusCode.UNKNOWN: InternalError,
    grpc.StatusCode.UNIMPLEMENTED: InternalError,
    grpc.StatusCode.DATA_LOSS: InternalError,
}


class Script:
    """Answers of the fake server, in order; the last one repeats."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)

    def __call__(self, method: str) -> Answer:
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


@pytest.fixture
def script() -> Script:
    return Script(memory_service_pb2.GetMemoryResponse())


@pytest.fixture
def fake(script: Script) -> Iterator[FakeServer]:
    server = FakeServer(script)
    yield server
    server.stop()


def fast_client(address: str, **options: object) -> MemoriaClient:
    client = MemoriaClient(address, **options)  # type: ignore[arg-type]
    client._settings = memoria_client._transport.Settings(  # no need to wait in tests
        client._settings.timeout,
        client._settings.max_retries,
        client._settings.metadata,
        initial_backoff=0.01,
    )
    client._bind()
    return client


def test_every_exported_name_is_listed_and_documented() -> None:
    names = [name for name in dir(memoria_client) if not name.startswith("_")]
    public_modules = {"errors", "models"}
    assert sorted(memoria_client.__all__) == sorted(set(names) - public_modules)
    for name in memoria_client.__all__:
        value = getattr(memoria_client, name)
        if isinstance(value, type):
            assert value.__doc__ and value.__doc__ != object.__doc__, name
            for attribute, member in vars(value).items():
                if callable(member) and not attribute.startswith("_"):
                    assert member.__doc__, f"{name}.{attribute}"


@pytest.mark.parametrize(("code", "kind"), list(ERROR_CLASSES.items()), ids=lambda v: str(v))
def test_each_status_code_has_its_error(
    fake: FakeServer, script: Script, code: grpc.StatusCode, kind: type[MemoriaError]
) -> None:
    script.answers = [failure(code, f"failed with {code.name}")]
    with fast_client(fake.address, max_retries=0) as client, pytest.raises(kind) as raised:
        client.memory.get_memory("s")
    error = raised.value
    assert type(error) is kind
    assert (error.code, error.message, error.reason) == (code, f"failed with {code.name}", "")
    assert isinstance(error.__cause__, grpc.RpcError)


def test_details_become_attributes(fake: FakeServer, script: Script) -> None:
    script.answers = [
        failure(
            grpc.StatusCode.INVALID_ARGUMENT,
            "bad",
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field="lastn", description="big"),
                    error_details_pb2.BadRequest.FieldViolation(
                        field="session_id", description="x"
                    ),
                ]
            ),
            error_details_pb2.ErrorInfo(reason="WHY", domain="memoria.v1", metadata={"k": "v"}),
        )
    ]
    with fast_client(fake.address) as client, pytest.raises(InvalidArgumentError) as raised:
        client.memory.get_memory("s")
    assert raised.value.field_violations == [
        FieldViolation("lastn", "big"),
        FieldViolation("session_id", "x"),
    ]
    assert (raised.value.reason, dict(raised.value.metadata)) == ("WHY", {"k": "v"})


def test_summary_behind_is_its_own_error_and_not_retried(fake: FakeServer, script: Script) -> None:
    script.answers = [
        failure(
            grpc.StatusCode.UNAVAILABLE,
            "summaries far behind",
            error_details_pb2.ErrorInfo(
                reason="SUMMARY_BEHIND", domain="memoria.v1", metadata={"summarized_through": "7"}
            ),
        )
    ]
    with fast_client(fake.address) as client, pytest.raises(SummaryBehindError) as raised:
        client.memory.get_memory("s", memory_type="perpetual")
    assert isinstance(raised.value, UnavailableError)
    assert raised.value.metadata["summarized_through"] == "7"
    assert fake.methods() == ["GetMemory"]


@pytest.mark.parametrize("code", [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED])
def test_idempotent_calls_are_retried(
    fake: FakeServer, script: Script, code: grpc.StatusCode
) -> None:
    script.answers = [
        failure(code, "1"),
        failure(code, "2"),
        memory_service_pb2.GetMemoryResponse(),
    ]
    with fast_client(fake.address) as client:
        assert client.memory.get_memory("s").messages == []
    assert fake.methods() == ["GetMemory"] * 3


def test_retries_end_after_max_retries(fake: FakeServer, script: Script) -> None:
    script.answers = [failure(grpc.StatusCode.UNAVAILABLE, "down")]
    with fast_client(fake.address, max_retries=2) as client, pytest.raises(UnavailableError):
        client.memory.add_memory("s", [Message(role_type="user", content="x")])
    assert fake.methods() == ["AddMemory"] * 3
    with fast_client(fake.address, max_retries=0) as client, pytest.raises(UnavailableError):
        client.memory.get_memory("s")
    assert fake.methods()[3:] == ["GetMemory"]


def test_calls_that_are_not_idempotent_are_not_retried(fake: FakeServer, script: Script) -> None:
    script.answers = [failure(grpc.StatusCode.UNAVAILABLE, "down")]
    with fast_client(fake.address) as client:
        with pytest.raises(UnavailableError):
            client.session.create("s")
        with pytest.raises(UnavailableError):
            client.user.delete("u")
    assert fake.methods() == ["CreateSession", "DeleteUser"]


def test_other_errors_are_not_retried(fake: FakeServer, script: Script) -> None:
    script.answers = [failure(grpc.StatusCode.INTERNAL, "bug")]
    with fast_client(fake.address) as client, pytest.raises(InternalError):
        client.memory.get_memory("s")
    assert fake.methods() == ["GetMemory"]


async def test_async_client_maps_and_retries_the_same(fake: FakeServer, script: Script) -> None:
    script.answers = [
        failure(grpc.StatusCode.UNAVAILABLE, "1"),
        failure(grpc.StatusCode.NOT_FOUND, "gone"),
    ]
    async with AsyncMemoriaClient(fake.address) as client:
        with pytest.raises(NotFoundError) as raised:
            await client.with_options(max_retries=1).memory.get_memory("s")
    assert isinstance(raised.value.__cause__, grpc.aio.AioRpcError)
    assert fake.methods() == ["GetMemory", "GetMemory"]


def test_api_key_is_sent_as_a_bearer_token(fake: FakeServer) -> None:
    with MemoriaClient(fake.address, api_key="mk_secret") as client:
        client.memory.get_memory("s")
    with MemoriaClient(fake.address) as client:
        client.memory.get_memory("s")
    (_, with_key), (_, without_key) = fake.calls
    assert with_key["authorization"] == "Bearer mk_secret"
    assert "authorization" not in without_key


async def test_api_key_is_sent_by_the_async_client(fake: FakeServer) -> None:
    async with AsyncMemoriaClient(fake.address, api_key="mk_async") as client:
        await client.memory.get_memory("s")
    async with MemoriaClient(fake.address, api_key="mk_twin") as twin:
        await twin.memory.aget_memory("s")
    assert [metadata["authorization"] for _, metadata in fake.calls] == [
        "Bearer mk_async",
        "Bearer mk_twin",
    ]


def test_tls_with_the_callers_credentials(tmp_path: Path) -> None:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"),
            *("-addext", "subjectAltName=DNS:localhost"),
        ],
        check=True,
        capture_output=True,
    )
    credentials = grpc.ssl_server_credentials([(key.read_bytes(), cert.read_bytes())])
    fake = FakeServer(Script(memory_service_pb2.GetMemoryResponse()), credentials)
    trusted = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
    try:
        with MemoriaClient(fake.address, tls=trusted, api_key="k") as client:
            assert client.memory.get_memory("s").messages == []
        with (
            fast_client(fake.address, max_retries=0) as plaintext,
            pytest.raises(UnavailableError),
        ):
            plaintext.memory.get_memory("s")

        async def over_tls() -> None:
            async with AsyncMemoriaClient(fake.address, tls=trusted) as client:
                await client.memory.get_memory("s")

        asyncio.run(over_tls())
    finally:
        fake.stop()
    assert fake.methods() == ["GetMemory", "GetMemory"]
    assert fake.calls[0][1]["authorization"] == "Bearer k"


def test_live_server_errors(client: MemoriaClient, session_id: str) -> None:
    with pytest.raises(NotFoundError) as not_found:
        client.memory.get_memory(session_id)
    assert (not_found.value.resource_type, not_found.value.resource_name) == ("session", session_id)

    client.session.create(session_id)
    with pytest.raises(AlreadyExistsError):
        client.session.create(session_id)

    with pytest.raises(InvalidArgumentError) as invalid:
        client.memory.get_memory("bad id!", lastn=5000)
    assert {v.field for v in invalid.value.field_violations} == {"session_id", "lastn"}

    with pytest.raises(NotFoundError):  # a stream fails at its first message
        next(client.memory.stream_messages(session_id, after=str(uuid.uuid4())))


async def test_live_server_errors_of_async_streams_and_lists(
    aclient: AsyncMemoriaClient, session_id: str
) -> None:
    with pytest.raises(NotFoundError) as raised:
        await anext(aclient.memory.stream_messages(session_id))
    assert isinstance(raised.value.__cause__, grpc.aio.AioRpcError)
    with pytest.raises(NotFoundError):
        await anext(aclient.user.list_sessions(f"nobody-{session_id}"))


def test_nothing_listening_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
    with fast_client(address, max_retries=1) as client, pytest.raises(UnavailableError):
        client.memory.get_memory("s")


def test_timeout_is_deadline_exceeded_and_retried() -> None:
    def slow(method: str) -> Answer:
        time.sleep(0.5)
        return memory_service_pb2.GetMemoryResponse()

    fake = FakeServer(slow)
    try:
        with fast_client(fake.address, timeout=0.1) as client:
            hurried = client.with_options(max_retries=1)
            with pytest.raises(DeadlineExceededError):
                hurried.memory.get_memory("s")
            assert fake.methods() == ["GetMemory"] * 2
            assert client.with_options(timeout=5).memory.get_memory("s").messages == []
    finally:
        fake.stop()
