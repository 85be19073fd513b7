"""current_caller() inside handlers of every kind, as the call boundary sets it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from server.api.boundary import CallBoundary
from server.api.caller import current_caller
from server.domain.caller import Caller
from server.domain.errors import Unauthenticated


async def authenticate(authorization: str | None) -> Caller:
    """Tenant = the bearer token itself, for the test."""
    if authorization is None:
        raise Unauthenticated("API_KEY_MISSING", "missing API key")
    return Caller(authorization.removeprefix("Bearer "), "key1")


async def unary(request: bytes, context: Any) -> bytes:
    return current_caller().tenant.encode()


async def server_stream(request: bytes, context: Any) -> AsyncIterator[bytes]:
    for _ in range(2):
        yield current_caller().tenant.encode()


async def client_stream(requests: AsyncIterator[bytes], context: Any) -> bytes:
    count = sum([1 async for _ in requests])
    return f"{current_caller().tenant}:{count}".encode()


@pytest.fixture
async def channel() -> AsyncIterator[grpc.aio.Channel]:
    server = grpc.aio.server()
    handlers = {
        "Unary": grpc.unary_unary_rpc_method_handler(unary),
        "ServerStream": grpc.unary_stream_rpc_method_handler(server_stream),
        "ClientStream": grpc.stream_unary_rpc_method_handler(client_stream),
    }
    boundary = CallBoundary(server, authenticate)
    boundary.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("test.Who", handlers)])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as opened:
        yield opened
    await server.stop(None)


def bearer(tenant: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {tenant}"),)


async def test_each_call_sees_its_own_caller(channel: grpc.aio.Channel) -> None:
    call = channel.unary_unary("/test.Who/Unary", None, None)
    assert await call(b"", metadata=bearer("acme")) == b"acme"
    assert await call(b"", metadata=bearer("globex")) == b"globex"
    stream = channel.unary_stream("/test.Who/ServerStream", None, None)
    assert [r async for r in stream(b"", metadata=bearer("acme"))] == [b"acme", b"acme"]
    upload = channel.stream_unary("/test.Who/ClientStream", None, None)
    assert await upload(iter([b"a", b"b", b"c"]), metadata=bearer("initech")) == b"initech:3"


async def test_a_refused_call_never_reaches_the_handler(channel: grpc.aio.Channel) -> None:
    for call in (
        channel.unary_unary("/test.Who/Unary", None, None)(b""),
        channel.stream_unary("/test.Who/ClientStream", None, None)(iter([b"a"])),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await call
        assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert raised.value.details() == "missing API key"
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        _ = [r async for r in channel.unary_stream("/test.Who/ServerStream", None, None)(b"")]
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_no_caller_outside_an_rpc() -> None:
    with pytest.raises(LookupError, match="no authenticated caller"):
        current_caller()
