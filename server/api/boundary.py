"""The call boundary: errors leave as proper statuses, and every RPC is logged once.

Per call, from the outside in: the access-log record (``access_log``), the
mapping of errors to statuses (``_boundary``), the caller's authentication
(``authentication``), the refusal of undecodable requests (``decoding``), then
the servicer.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

import grpc

from server.api.access_log import CallRecord
from server.api.authentication import OPEN_SERVICES, Authenticate, authenticated
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


class CallBoundary:
    """Registers services on ``server`` with every handler inside the boundary: errors
    map to statuses (``MemoriaError`` to its own, anything unexpected to INTERNAL,
    logged with its stack trace), undecodable requests are refused as
    INVALID_ARGUMENT, the caller is authenticated (health and reflection excepted),
    and each RPC writes one access-log line.

    Pass it where the generated ``add_*Servicer_to_server`` functions take a server.
    Handlers are wrapped once, as they are first served, rather than by grpc.aio
    interceptors, whose pipeline runs for every call (a pass-through pair costs a
    bare echo server 2-7 % of its calls per second).
    """

    def __init__(
        self,
        server: grpc.aio.Server,
        authenticate: Authenticate,
        load: CallLoad | None = None,
    ) -> None:
        self._server = server
        self._authenticate = authenticate
        self._load = load or CallLoad()  # counts the calls with one answer

    def add_generic_rpc_handlers(
        self, handlers: Sequence[grpc.GenericRpcHandler[Any, Any]]
    ) -> None:
        self._server.add_generic_rpc_handlers([_Bounded(h, self._wrap) for h in handlers])

    def add_registered_method_handlers(
        self, service_name: str, handlers: dict[str, grpc.RpcMethodHandler[Any, Any]]
    ) -> None:
        """Left out: the generated code registers each service both ways, and the
        generic handler is enough. For each registered method grpc.aio keeps a call
        request pending and runs ``asyncio.wait`` over all of them for every call it
        accepts (~22 callbacks added and removed per call)."""

    def _wrap(self, method: str, handler: Any) -> Any:
        service = method.lstrip("/").partition("/")[0]
        authenticate = None if service in OPEN_SERVICES else self._authenticate
        return _wrap(method, handler, self._load, authenticate)


class _Bounded(grpc.GenericRpcHandler):  # type: ignore[type-arg]
    """A generic handler whose method handlers are wrapped, each once."""

    def __init__(self, inner: Any, wrap: Callable[[str, Any], Any]) -> None:
        self._inner = inner
        self._make = wrap
        # Per method: the handler last seen, and it wrapped.
        self._wrapped: dict[str, tuple[Any, Any]] = {}

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> Any:
        handler = self._inner.service(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        known = self._wrapped.get(method)
        if known is not None and known[0] is handler:
            return known[1]
        wrapped = self._make(method, handler)
        self._wrapped[method] = (handler, wrapped)
        return wrapped


def _wrap(method: str, handler: Any, load: CallLoad, authenticate: Authenticate | None) -> Any:
    """``handler`` inside the boundary; ``authenticate``: None for an open service."""
    deserialize = tolerant(handler.request_deserializer)

    def inner(behavior: Behavior, decoded: Callable[..., Behavior] = decoded_request) -> Behavior:
        checked = decoded(behavior, _current_record)
        return checked if authenticate is None else authenticated(checked, authenticate)

    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(
            _unary_response(method, inner(handler.unary_unary), load),
            deserialize,
            handler.response_serializer,
        )
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(
            _unary_response(method, inner(handler.stream_unary, decoded_stream), load),
            deserialize,
            handler.response_serializer,
        )
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(
            _stream_response(method, inner(handler.unary_stream), load),
            deserialize,
            handler.response_serializer,
        )
    return grpc.stream_stream_rpc_method_handler(
        _stream_response(method, inner(handler.stream_stream, decoded_stream), load),
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
