"""Requests that protobuf cannot decode are refused as INVALID_ARGUMENT.

gRPC reports a request its deserializer rejects as UNKNOWN, with a traceback in
the log for every such call. Here the deserializer keeps the failure instead,
and the handler refuses the request with a plain message.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError

from server.api.access_log import CallRecord
from server.domain.errors import InvalidArgument

__all__ = ["Behavior", "Context", "decoded_request", "decoded_stream", "tolerant"]

# grpc-stubs types handlers for the synchronous server only; here they are async.
Behavior = Callable[[Any, Any], Any]
Context = Any


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


def tolerant(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
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


def decoded_request(behavior: Behavior, record: Callable[[Context], CallRecord]) -> Behavior:
    """Refuses an undecodable request before ``behavior`` sees it; notes its session."""
    if inspect.isasyncgenfunction(behavior):

        async def generator(request: Any, context: Context) -> AsyncIterator[Any]:
            _check(request, record(context))
            async for response in behavior(request, context):
                yield response

        return generator

    async def call(request: Any, context: Context) -> Any:
        _check(request, record(context))
        return await behavior(request, context)

    return call


def _check(request: Any, record: CallRecord) -> None:
    if isinstance(request, _Undecodable):
        raise request.refusal()
    record.saw_request(request)


def decoded_stream(behavior: Behavior, record: Callable[[Context], CallRecord]) -> Behavior:
    """Hands ``behavior`` a request stream that raises at an undecodable request."""

    async def checked(requests: AsyncIterator[Any], context: Context) -> AsyncIterator[Any]:
        number = 0
        async for request in requests:
            if isinstance(request, _Undecodable):
                raise request.refusal(f"request {number} of the stream")
            record(context).saw_request(request)
            number += 1
            yield request

    if inspect.isasyncgenfunction(behavior):

        async def generator(requests: AsyncIterator[Any], context: Context) -> AsyncIterator[Any]:
            async for response in behavior(checked(requests, context), context):
                yield response

        return generator

    async def call(requests: AsyncIterator[Any], context: Context) -> Any:
        return await behavior(checked(requests, context), context)

    return call
