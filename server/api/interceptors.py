"""The call boundary: every RPC is logged once, and errors leave as proper statuses."""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from server.api.caller import caller_or_none
from server.api.status import INTERNAL_ERROR, status_of
from server.domain.errors import InvalidArgument, MemoriaError

__all__ = ["CallBoundary"]

access_log = logging.getLogger("memoria.access")
error_log = logging.getLogger("memoria.errors")

# grpc-stubs types handlers for the synchronous server only; here they are async.
Behavior = Callable[[Any, Any], Any]
Context = Any


class CallBoundary(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    """Maps ``MemoriaError`` to its gRPC status, hides unexpected errors behind INTERNAL
    (logged with their stack trace), and writes one access-log line per RPC with the
    method, the status code, the duration, the caller's tenant and key id."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method = handler_call_details.method
        deserialize = _tolerant(handler.request_deserializer)
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                _unary_response(method, _decoded_request(handler.unary_unary)),
                deserialize,
                handler.response_serializer,
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                _unary_response(method, _decoded_stream(handler.stream_unary)),
                deserialize,
                handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                _stream_response(method, _decoded_request(handler.unary_stream)),
                deserialize,
                handler.response_serializer,
            )
        return grpc.stream_stream_rpc_method_handler(
            _stream_response(method, _decoded_stream(handler.stream_stream)),
            deserialize,
            handler.response_serializer,
        )


@dataclass(frozen=True)
class _Undecodable:
    """A request message that protobuf could not decode, kept for the handler to refuse."""

    type_name: str
    error: Exception

    def refusal(self, where: str = "the request") -> InvalidArgument:
        return InvalidArgument(
            [],
            f"{where} is not a valid {self.type_name} ({self.error}): not protobuf of that"
            " type, a string that is not UTF-8, or google.protobuf.Struct metadata nested"
            " deeper than the decoder allows",
        )


def _tolerant(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    """Decodes as ``deserializer`` does, but turns a failure into an ``_Undecodable``
    instead of an exception that gRPC reports as UNKNOWN with a traceback."""
    if deserializer is None:
        return None
    message_class = getattr(deserializer, "__self__", None)
    descriptor = getattr(message_class, "DESCRIPTOR", None)
    type_name = descriptor.full_name if descriptor is not None else "request message"

    def deserialize(data: bytes) -> Any:
        try:
            return deserializer(data)
        except (DecodeError, RecursionError, ValueError) as exc:
            return _Undecodable(type_name, exc)

    return deserialize


def _decoded_request(behavior: Behavior) -> Behavior:
    """Refuses an undecodable request before ``behavior`` sees it."""
    if inspect.isasyncgenfunction(behavior):

        async def generator(request: Any, context: Context) -> AsyncIterator[Any]:
            if isinstance(request, _Undecodable):
                raise request.refusal()
            async for response in behavior(request, context):
                yield response

        return generator

    async def call(request: Any, context: Context) -> Any:
        if isinstance(request, _Undecodable):
            raise request.refusal()
        return await behavior(request, context)

    return call


def _decoded_stream(behavior: Behavior) -> Behavior:
    """Hands ``behavior`` a request stream that raises at an undecodable request."""

    async def checked(requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
        number = 0
        async for request in requests:
            if isinstance(request, _Undecodable):
                raise request.refusal(f"request {number} of the stream")
            number += 1
            yield request

    if inspect.isasyncgenfunction(behavior):

        async def generator(requests: AsyncIterator[Any], context: Context) -> AsyncIterator[Any]:
            async for response in behavior(checked(requests), context):
                yield response

        return generator

    async def call(requests: AsyncIterator[Any], context: Context) -> Any:
        return await behavior(checked(requests), context)

    return call


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
        caller = caller_or_none()  # never a secret: the tenant and the key's id
        access_log.info(
            "%s %s tenant=%s key=%s %.2fms",
            method,
            code.name,
            caller.tenant if caller else "-",
            (caller.key_id or "-") if caller else "-",
            elapsed_ms,
        )


def _final_code(context: Context) -> grpc.StatusCode:
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code
    if context.cancelled():
        return grpc.StatusCode.CANCELLED
    return grpc.StatusCode.OK
