"""Every call but health and reflection carries an API key, checked before its handler runs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from server.api.caller import set_caller
from server.api.reflection import REFLECTION_V1, REFLECTION_V1ALPHA
from server.domain.caller import Caller
from server.domain.errors import MemoriaError

__all__ = ["OPEN_SERVICES", "Authenticate", "Authentication"]

# Load balancers and tools probe these without credentials.
OPEN_SERVICES = frozenset({"grpc.health.v1.Health", REFLECTION_V1, REFLECTION_V1ALPHA})

Authenticate = Callable[[str | None], Awaitable[Caller]]


class Authentication(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    """Hands the ``authorization`` metadata to ``authenticate`` and makes the caller it
    returns the RPC's ``current_caller()``. A refusal (a ``MemoriaError``:
    ``Unauthenticated``, or ``Unavailable`` when the keys cannot be read) replaces the
    handler with one that raises it, for ``CallBoundary`` to turn into a status."""

    def __init__(self, authenticate: Authenticate) -> None:
        self._authenticate = authenticate

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        service = handler_call_details.method.lstrip("/").partition("/")[0]
        if service in OPEN_SERVICES:
            return await continuation(handler_call_details)
        try:
            caller = await self._authenticate(_authorization(handler_call_details))
        except MemoriaError as error:
            handler = await continuation(handler_call_details)
            return None if handler is None else _refusing(handler, error)
        set_caller(caller)  # this RPC's task runs the handler next, in the same context
        return await continuation(handler_call_details)


def _authorization(details: grpc.HandlerCallDetails) -> str | None:
    for key, value in details.invocation_metadata or ():
        if key == "authorization":
            return value if isinstance(value, str) else None
    return None


def _refusing(handler: Any, error: MemoriaError) -> Any:
    """A handler of the same kind as ``handler`` that raises ``error``."""

    async def refuse(request: Any, context: Any) -> Any:
        raise error

    async def refuse_stream(request: Any, context: Any) -> AsyncIterator[Any]:
        raise error
        yield  # an async generator, as streaming handlers are

    codecs = (handler.request_deserializer, handler.response_serializer)
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(refuse, *codecs)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(refuse, *codecs)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(refuse_stream, *codecs)
    return grpc.stream_stream_rpc_method_handler(refuse_stream, *codecs)
