"""The two clients: ``MemoriaClient`` (blocking, with awaitable twins) and
``AsyncMemoriaClient`` (asyncio)."""

from __future__ import annotations

import copy
from dataclasses import replace
from types import TracebackType
from typing import Self

import grpc

from memoria_client._ops import UNSET, Unset
from memoria_client._resources import (
    AsyncMemoryResource,
    AsyncSessionResource,
    AsyncUserResource,
    MemoryResource,
    SessionResource,
    UserResource,
)
from memoria_client._transport import (
    AioChannels,
    AsyncTransport,
    ChannelOptions,
    Settings,
    SyncTransport,
    credentials_of,
    metadata_of,
    sync_channel,
)

__all__ = ["DEFAULT_TARGET", "AsyncMemoriaClient", "MemoriaClient"]

DEFAULT_TARGET = "localhost:50051"
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_RETRIES = 3


class _Client:
    def __init__(
        self,
        target: str = DEFAULT_TARGET,
        *,
        api_key: str | None = None,
        tls: bool | grpc.ChannelCredentials = False,
        timeout: float | None = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        options: ChannelOptions = (),
    ) -> None:
        self.target = target
        credentials = credentials_of(tls)
        self._open(credentials, options)
        self._aio_channels = AioChannels(target, credentials, options)
        self._settings = Settings(timeout, max_retries, metadata_of(api_key))
        self._bind()

    def _open(self, credentials: grpc.ChannelCredentials | None, options: ChannelOptions) -> None:
        """Opens the channels that do not wait for an event loop."""

    def _bind(self) -> None:
        raise NotImplementedError

    def with_options(
        self, *, timeout: float | Unset | None = UNSET, max_retries: int | Unset = UNSET
    ) -> Self:
        """A client on the same connection with another ``timeout`` (seconds per attempt,
        ``None`` for none) or ``max_retries``, e.g.
        ``client.with_options(timeout=2).memory.get_memory(...)``. Closing either closes
        the connection of both: close the original when done."""
        settings = self._settings
        if not isinstance(timeout, Unset):
            settings = replace(settings, timeout=timeout)
        if not isinstance(max_retries, Unset):
            settings = replace(settings, max_retries=max_retries)
        clone = copy.copy(self)
        clone._settings = settings
        clone._bind()
        return clone


class MemoriaClient(_Client):
    """A blocking client of a Memoria server at ``target`` (``host:port``).

    ``api_key`` is sent as ``authorization: Bearer <key>``. ``tls`` is ``False`` for a
    plaintext connection, ``True`` for TLS with the system's root certificates, or
    ``grpc.ChannelCredentials`` of your own (e.g. for mTLS). ``timeout`` bounds each
    attempt of a call, in seconds (``None``: no deadline; streams have none).
    Idempotent calls failing with UNAVAILABLE or DEADLINE_EXCEEDED are tried again up to
    ``max_retries`` times, with exponential backoff and jitter. ``options`` are extra
    gRPC channel arguments.

    ``client.memory``, ``client.session`` and ``client.user`` hold the calls, each with
    an awaitable twin named ``a…`` (``await client.memory.aget_memory(...)``). Use the
    client in ``with`` (or ``async with`` when you use the twins), or call ``close()``.
    """

    memory: MemoryResource
    """MemoryService: messages and memory of sessions."""
    session: SessionResource
    """SessionService: sessions."""
    user: UserResource
    """UserService: users and their sessions."""

    def _open(self, credentials: grpc.ChannelCredentials | None, options: ChannelOptions) -> None:
        self._channel = sync_channel(self.target, credentials, options)

    def _bind(self) -> None:
        sync = SyncTransport(self._channel, self._settings)
        aio = AsyncTransport(self._aio_channels, self._settings)
        self.memory = MemoryResource(sync, aio)
        self.session = SessionResource(sync, aio)
        self.user = UserResource(sync, aio)

    def close(self) -> None:
        """Closes the connection. Awaitable twins used? Prefer ``aclose()``."""
        self._channel.close()

    async def aclose(self) -> None:
        """Closes the connections of both the blocking calls and their awaitable twins."""
        await self._aio_channels.close()
        self._channel.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


class AsyncMemoriaClient(_Client):
    """An asyncio client of a Memoria server at ``target``, with the arguments of
    ``MemoriaClient``. Every call is awaitable (``await client.memory.get_memory(...)``,
    also spelled ``aget_memory``); lists and streams are async iterators. The connection
    opens at the first call, in the running event loop. Use it in ``async with``, or
    call ``await client.close()``."""

    memory: AsyncMemoryResource
    """MemoryService: messages and memory of sessions."""
    session: AsyncSessionResource
    """SessionService: sessions."""
    user: AsyncUserResource
    """UserService: users and their sessions."""

    def _bind(self) -> None:
        aio = AsyncTransport(self._aio_channels, self._settings)
        self.memory = AsyncMemoryResource(aio)
        self.session = AsyncSessionResource(aio)
        self.user = AsyncUserResource(aio)

    async def close(self) -> None:
        """Closes the connection."""
        await self._aio_channels.close()

    aclose = close

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
