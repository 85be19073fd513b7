"""The call boundary: every RPC is logged once, and errors leave as proper statuses."""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import grpc

from server.api.status import INTERNAL_ERROR, status_of
from server.domain.errors import MemoriaError

__all__ = ["CallBoundary"]

access_log = logging.getLogger("memoria.access")
error_log = logging.getLogger("memoria.errors")

# grpc-stubs types handlers for the synchronous server only; here they are async.
Behavior = Callable[[Any, Any], Any]
Context = Any


class CallBoundary(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    """Maps ``MemoriaError`` to its gRPC status, hides unexpected errors behind INTERNAL
    (logged with their stack trace), and writes one access-log line per RPC with the
    method, the status code and the duration."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method = handler_call_details.method
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                _unary_response(method, handler.unary_unary),
                handler.request_deserializer,
                handler.response_serializer,
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                _unary_response(method, handler.stream_unary),
                handler.request_deserializer,
                handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                _stream_response(method, handler.unary_stream),
                handler.request_deserializer,
                handler.response_serializer,
            )
        return grpc.stream_stream_rpc_method_handler(
            _stream_response(method, handler.stream_stream),
            handler.request_deserializer,
            handler.response_serializer,
        )


def _unary_response(method: str, behavior: Behavior) -> Behavior:
    async def wrapped(request: Any, context: Context) -> Any:
        async with _boundary(method, context):
            return await behavior(request, context)

    return wrapped


def _stream_response(method: str, behavior: Behavior) -> Behavior:
    if inspect.isasyncgenfunction(behavior):

        async def wrapped_generator(request: Any, context: Context) -> AsyncIterator[Any]:
            async with _boundary(method, context):
                async for response in behavior(request, context):
                    yield response

        return wrapped_generator

    # A streaming handler written with `await context.write(...)` (e.g. health Watch).
    async def wrapped(request: Any, context: Context) -> Any:
        async with _boundary(method, context):
            return await behavior(request, context)

    return wrapped


@asynccontextmanager
async def _boundary(method: str, context: Context) -> AsyncIterator[None]:
    started = time.perf_counter()
    code: grpc.StatusCode | None = None
    try:
        yield
    except MemoriaError as error:
        status = status_of(error)
        code = status.code
        await context.abort_with_status(status)
    except grpc.aio.AbortError:  # the handler aborted with its own status
        raise
    except Exception:
        error_log.exception("unexpected error in %s", method)
        code = INTERNAL_ERROR.code
        await context.abort_with_status(INTERNAL_ERROR)
    finally:
        elapsed_ms = (time.perf_counter() - started) * 1000
        if code is None:
            code = _final_code(context)
        access_log.info("%s %s %.2fms", method, code.name, elapsed_ms)


def _final_code(context: Context) -> grpc.StatusCode:
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code
    if context.cancelled():
        return grpc.StatusCode.CANCELLED
    return grpc.StatusCode.OK
