"""Channels, and the execution of the calls that ``_ops`` describes: call options,
retries with backoff, pagination, resumable streams. One sync and one asyncio twin."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
import grpc.aio

from memoria_client import _ops
from memoria_client._proto import (
    memory_service_pb2_grpc,
    session_service_pb2_grpc,
    user_service_pb2_grpc,
)
from memoria_client.errors import (
    DeadlineExceededError,
    SummaryBehindError,
    UnavailableError,
    error_from_rpc,
)
from memoria_client.models import Message

Out = TypeVar("Out")
Item = TypeVar("Item")

ChannelOptions = Sequence[tuple[str, Any]]

_STUBS: dict[str, Callable[[Any], Any]] = {
    _ops.MEMORY: memory_service_pb2_grpc.MemoryServiceStub,
    _ops.SESSIONS: session_service_pb2_grpc.SessionServiceStub,
    _ops.USERS: user_service_pb2_grpc.UserServiceStub,
}

# Reconnect soon after a server restart, so that retries find it back within their
# backoff (gRPC's default waits 1 s, then ever longer, up to 2 min).
_DEFAULT_CHANNEL_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.initial_reconnect_backoff_ms", 250),
    ("grpc.max_reconnect_backoff_ms", 5000),
]


@dataclass(frozen=True)
class Settings:
    """What every call of a client carries: its deadline (seconds; ``None`` for none),
    how often an idempotent call is retried, and the metadata (API key)."""

    timeout: float | None
    max_retries: int
    metadata: tuple[tuple[str, str], ...]
    initial_backoff: float = 0.5
    max_backoff: float = 8.0

    def backoff(self, exc: grpc.RpcError, attempt: int, idempotent: bool) -> float:
        """Seconds to wait before attempt ``attempt + 1`` after ``exc``; raises the
        client's error for ``exc`` when the call is not to be tried again."""
        error = error_from_rpc(exc)
        if (
            not idempotent
            or attempt >= self.max_retries
            or not isinstance(error, UnavailableError | DeadlineExceededError)
            # Summaries take minutes to catch up, not a reconnection: the caller decides.
            or isinstance(error, SummaryBehindError)
        ):
            raise error from exc
        backoff = min(self.max_backoff, self.initial_backoff * 2.0**attempt)
        return backoff * random.uniform(0.5, 1.0)


def metadata_of(api_key: str | None) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {api_key}"),) if api_key else ()


def credentials_of(tls: bool | grpc.ChannelCredentials) -> grpc.ChannelCredentials | None:
    if tls is True:
        return grpc.ssl_channel_credentials()
    if tls is False:
        return None
    return tls


def channel_options(options: ChannelOptions) -> list[tuple[str, Any]]:
    given = {name for name, _ in options}
    return [*(o for o in _DEFAULT_CHANNEL_OPTIONS if o[0] not in given), *options]


def sync_channel(
    target: str, credentials: grpc.ChannelCredentials | None, options: ChannelOptions
) -> grpc.Channel:
    if credentials is None:
        return grpc.insecure_channel(target, channel_options(options))
    return grpc.secure_channel(target, credentials, channel_options(options))


def aio_channel(
    target: str, credentials: grpc.ChannelCredentials | None, options: ChannelOptions
) -> grpc.aio.Channel:
    if credentials is None:
        return grpc.aio.insecure_channel(target, channel_options(options))
    return grpc.aio.secure_channel(target, credentials, channel_options(options))


class _Stubs:
    """The generated stubs of the channel in use."""

    def __init__(self) -> None:
        self._channel: grpc.Channel | grpc.aio.Channel | None = None
        self._stubs: dict[str, Any] = {}

    def rpc(self, channel: grpc.Channel | grpc.aio.Channel, service: str, method: str) -> Any:
        if channel is not self._channel:
            self._stubs = {name: stub(channel) for name, stub in _STUBS.items()}
            self._channel = channel
        return getattr(self._stubs[service], method)


class SyncTransport:
    """Runs calls on a ``grpc.Channel``."""

    def __init__(self, channel: grpc.Channel, settings: Settings) -> None:
        self.channel = channel
        self.settings = settings
        self._stubs = _Stubs()

    def _rpc(self, service: str, method: str) -> Any:
        return self._stubs.rpc(self.channel, service, method)

    def call(self, call: _ops.Call[Out]) -> Out:
        settings = self.settings
        rpc = self._rpc(call.service, call.method)
        attempt = 0
        while True:
            request = iter(call.request) if call.client_stream else call.request
            try:
                response = rpc(request, timeout=settings.timeout, metadata=settings.metadata)
            except grpc.RpcError as exc:
                time.sleep(settings.backoff(exc, attempt, call.idempotent))
                attempt += 1
                continue
            return call.parse(response)

    def pages(self, pages: _ops.Pages[Item]) -> Iterator[Item]:
        token = ""
        while True:
            response = self.call(pages.page(token))
            yield from pages.items(response)
            token = response.next_page_token
            if not token:
                return

    def stream(self, cursor: _ops.StreamCursor) -> Generator[Message]:
        settings = self.settings
        rpc = self._rpc(_ops.MEMORY, _ops.STREAM_METHOD)
        attempt = 0
        while True:
            responses = rpc(cursor.request(), metadata=settings.metadata)
            try:
                for response in responses:
                    attempt = 0
                    yield from cursor.take(response)
                return
            except grpc.RpcError as exc:
                time.sleep(settings.backoff(exc, attempt, idempotent=True))
                attempt += 1
            finally:
                responses.cancel()


class AsyncTransport:
    """Runs calls on a ``grpc.aio.Channel``; the asyncio twin of ``SyncTransport``."""

    def __init__(self, channels: AioChannels, settings: Settings) -> None:
        self.channels = channels
        self.settings = settings
        self._stubs = _Stubs()

    def _rpc(self, service: str, method: str) -> Any:
        return self._stubs.rpc(self.channels.get(), service, method)

    async def call(self, call: _ops.Call[Out]) -> Out:
        settings = self.settings
        rpc = self._rpc(call.service, call.method)
        attempt = 0
        while True:
            request = iter(call.request) if call.client_stream else call.request
            try:
                response = await rpc(request, timeout=settings.timeout, metadata=settings.metadata)
            except grpc.RpcError as exc:
                await asyncio.sleep(settings.backoff(exc, attempt, call.idempotent))
                attempt += 1
                continue
            return call.parse(response)

    async def pages(self, pages: _ops.Pages[Item]) -> AsyncIterator[Item]:
        token = ""
        while True:
            response = await self.call(pages.page(token))
            for item in pages.items(response):
                yield item
            token = response.next_page_token
            if not token:
                return

    async def stream(self, cursor: _ops.StreamCursor) -> AsyncGenerator[Message]:
        settings = self.settings
        rpc = self._rpc(_ops.MEMORY, _ops.STREAM_METHOD)
        attempt = 0
        while True:
            responses = rpc(cursor.request(), metadata=settings.metadata)
            try:
                async for response in responses:
                    attempt = 0
                    for message in cursor.take(response):
                        yield message
                return
            except grpc.RpcError as exc:
                await asyncio.sleep(settings.backoff(exc, attempt, idempotent=True))
                attempt += 1
            finally:
                responses.cancel()


class AioChannels:
    """The asyncio channel of a client, opened on first use in the running event loop
    (a ``grpc.aio`` channel belongs to one loop): a client can be built outside any
    loop, and the sync client's ``a…`` methods work in whatever loop awaits them."""

    def __init__(
        self,
        target: str,
        credentials: grpc.ChannelCredentials | None,
        options: ChannelOptions,
    ) -> None:
        self._target, self._credentials, self._options = target, credentials, options
        self._channel: grpc.aio.Channel | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def get(self) -> grpc.aio.Channel:
        loop = asyncio.get_running_loop()
        if self._channel is None or self._loop is not loop:
            # A channel of an earlier loop cannot be closed from this one; it is dropped.
            self._channel = aio_channel(self._target, self._credentials, self._options)
            self._loop = loop
        return self._channel

    async def close(self) -> None:
        channel, self._channel = self._channel, None
        if channel is not None and self._loop is asyncio.get_running_loop():
            await channel.close(None)
