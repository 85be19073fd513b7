"""Generated stubs bound to one channel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import grpc
from grpc_health.v1 import health_pb2_grpc
from memoria.v1 import memory_service_pb2_grpc, session_service_pb2_grpc, user_service_pb2_grpc

__all__ = ["Stubs"]


@dataclass
class Stubs:
    channel: grpc.Channel
    memory: memory_service_pb2_grpc.MemoryServiceStub
    sessions: session_service_pb2_grpc.SessionServiceStub
    users: user_service_pb2_grpc.UserServiceStub
    health: health_pb2_grpc.HealthStub

    @classmethod
    def connect(
        cls,
        address: str,
        *,
        api_key: str | None = None,
        credentials: grpc.ChannelCredentials | None = None,
        own_connection: bool = False,
    ) -> Stubs:
        """Stubs on a plaintext channel, or a TLS one with ``credentials``; every call
        sends ``authorization: Bearer <api_key>`` when a key is given; with
        ``own_connection`` the channel opens a TCP connection of its own."""
        # Channels to one address share one connection unless told otherwise.
        options = [("grpc.use_local_subchannel_pool", 1)] if own_connection else []
        channel = (
            grpc.insecure_channel(address, options)
            if credentials is None
            else grpc.secure_channel(address, credentials, options)
        )
        grpc.channel_ready_future(channel).result(timeout=10)
        if api_key is not None:
            channel = grpc.intercept_channel(channel, BearerKey(api_key))
        return cls(
            channel,
            memory_service_pb2_grpc.MemoryServiceStub(channel),
            session_service_pb2_grpc.SessionServiceStub(channel),
            user_service_pb2_grpc.UserServiceStub(channel),
            health_pb2_grpc.HealthStub(channel),
        )

    def close(self) -> None:
        self.channel.close()


class _CallDetails(NamedTuple):
    method: str
    timeout: float | None
    metadata: Any
    credentials: Any
    wait_for_ready: bool | None
    compression: Any


if TYPE_CHECKING:  # generic in grpc-stubs only
    _UnaryUnary = grpc.UnaryUnaryClientInterceptor[Any, Any]
    _UnaryStream = grpc.UnaryStreamClientInterceptor[Any, Any]
    _StreamUnary = grpc.StreamUnaryClientInterceptor[Any, Any]
    _StreamStream = grpc.StreamStreamClientInterceptor[Any, Any]
else:
    _UnaryUnary = grpc.UnaryUnaryClientInterceptor
    _UnaryStream = grpc.UnaryStreamClientInterceptor
    _StreamUnary = grpc.StreamUnaryClientInterceptor
    _StreamStream = grpc.StreamStreamClientInterceptor


class BearerKey(_UnaryUnary, _UnaryStream, _StreamUnary, _StreamStream):
    """Adds ``authorization: Bearer <key>`` to every call of a channel."""

    def __init__(self, key: str) -> None:
        self._header = ("authorization", f"Bearer {key}")

    def _with_key(self, details: Any) -> Any:
        return _CallDetails(
            details.method,
            details.timeout,
            [*(details.metadata or ()), self._header],
            details.credentials,
            details.wait_for_ready,
            details.compression,
        )

    def intercept_unary_unary(
        self, continuation: Any, client_call_details: Any, request: Any
    ) -> Any:
        return continuation(self._with_key(client_call_details), request)

    def intercept_unary_stream(
        self, continuation: Any, client_call_details: Any, request: Any
    ) -> Any:
        return continuation(self._with_key(client_call_details), request)

    def intercept_stream_unary(
        self, continuation: Any, client_call_details: Any, request_iterator: Any
    ) -> Any:
        return continuation(self._with_key(client_call_details), request_iterator)

    def intercept_stream_stream(
        self, continuation: Any, client_call_details: Any, request_iterator: Any
    ) -> Any:
        return continuation(self._with_key(client_call_details), request_iterator)
