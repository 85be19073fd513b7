"""The call boundary: errors leave as proper statuses, and every RPC is logged once.

Per call, from the outside in: the access-log record (``access_log``), the
mapping of errors to statuses (``_boundary``), the refusal of undecodable
requests (``decoding``), then the servicer.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

import grpc

from server.api.access_log import CallRecord
from server.api.decoding import Behavior, Context, decoded_request, decoded_stream, tolerant
from server.api.status import INTERNAL_ERROR, status_of
from server.domain.call_load import CallLoad
from server.domain.errors import MemoriaError

__all__ = ["CallBoundary"]

error_log = logging.getLogger("memoria.errors")

# The record of the call the current task serves.
_record: ContextVar[CallRecord] = ContextVar("memoria_call_record")


def _current_record(context: Context) -> CallRecord:
    return _record.get()


class CallBoundary(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    """Maps ``MemoriaError`` to its gRPC status, hides unexpected errors behind INTERNAL
    (logged with their stack trace), refuses undecodable requests with
    INVALID_ARGUMENT, and writes one access-log line per RPC."""

    def __init__(self, load: CallLoad | None = None) -> None:
        self._load = load or CallLoad()  # counts the calls with one answer
        # Per method: the handler last seen, and it wrapped.
        self._wrapped: dict[str, tuple[Any, Any]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method = handler_call_details.method
        # A method's handler is the same object call after call: wrap it once (a
        # refusal's handler is new each time, and takes the entry over until then).
        known = self._wrapped.get(method)
        if known is not None and known[0] is handler:
            return known[1]
        wrapped = _wrap(method, handler, self._load)
        self._wrapped[method] = (handler, wrapped)
        return wrapped


def _wrap(method: str, handler: Any, load: CallLoad) -> Any:
    """``handler`` inside the boundary."""
    deserialize = tolerant(handler.request_deserializer)
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(
            _unary_response(method, decoded_request(handler.unary_unary, _current_record), load),
            deserialize,
            handler.response_serializer,
        )
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(
            _unary_response(method, decoded_stream(handler.stream_unary, _current_record), load),
            deserialize,
            handler.response_serializer,
        )
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(
            _stream_response(method, decoded_request(handler.unary_stream, _current_record), load),
            deserialize,
            handler.response_serializer,
        )
    return grpc.stream_stream_rpc_method_handler(
        _stream_response(method, decoded_stream(handler.stream_stream, _current_record), load),
        deserialize,
        handler.response_serializer,
    )


def _unary_response(method: str, behavior: Behavior, load: CallLoad) -> Behavior:
    # `_boundary` written out: the context manager's own machinery cost a few
    # microseconds a call, on the path of every AddMemory and GetMemory.
    async def wrapped(request: Any, context: Context) -> Any:
        load.calls += 1
        record = CallRecord(method, context)
        _record.set(record)
        try:
            return await behavior(request, context)
        except BaseException as error:
            await _ended_by(error, method, context, record)
            raise
        finally:
            load.ended()
            record.write()

    return wrapped


def _stream_response(method: str, behavior: Behavior, load: CallLoad) -> Behavior:
    if inspect.isasyncgenfunction(behavior):

        async def wrapped_generator(request: Any, context: Context) -> AsyncIterator[Any]:
            async with _boundary(method, context):
                async for response in behavior(request, context):
                    load.streamed()
                    yield response

        return wrapped_generator

    # A streaming handler written with `await context.write(...)` (e.g. health Watch).
    async def wrapped(request: Any, context: Context) -> Any:
        async with _boundary(method, context):
            return await behavior(request, context)

    return wrapped


@asynccontextmanager
async def _boundary(method: str, context: Context) -> AsyncIterator[None]:
    record = CallRecord(method, context)
    _record.set(record)
    try:
        yield
    except BaseException as error:
        await _ended_by(error, method, context, record)
        raise
    finally:
        record.write()


async def _ended_by(
    error: BaseException, method: str, context: Context, record: CallRecord
) -> None:
    """Notes how ``error`` ends the call; raises the status it becomes, or returns for
    the caller to raise ``error`` on. Called in the ``except`` clause that caught it."""
    if isinstance(error, MemoriaError):
        status = status_of(error)
        record.ended(status.code, status.details)
        await context.abort_with_status(status)
    elif isinstance(error, grpc.aio.AbortError):  # the handler aborted with its own status
        return
    elif isinstance(error, asyncio.CancelledError | GeneratorExit):
        # The client went away or its deadline passed (the task is cancelled), or
        # gRPC closed the stream because a response could not be written.
        record.ended_early()
    elif isinstance(error, Exception):
        error_log.exception("unexpected error in %s", method)
        record.ended(INTERNAL_ERROR.code, INTERNAL_ERROR.details)
        await context.abort_with_status(INTERNAL_ERROR)
