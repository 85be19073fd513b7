"""A stand-in gRPC server that answers every call with a status chosen by the test, for
what the real server cannot be made to send on demand (each status code, auth errors)
and to see the metadata and the attempts of the client's calls."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent import futures
from typing import Any, TypeAlias

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message as ProtoMessage
from google.rpc import status_pb2
from grpc_status import rpc_status

__all__ = ["FakeServer"]

# What the fake answers to one call: a response message, or a status to fail with.
Answer: TypeAlias = ProtoMessage | status_pb2.Status


def failure(code: grpc.StatusCode, message: str, *details: ProtoMessage) -> status_pb2.Status:
    packed = []
    for detail in details:
        any_detail = any_pb2.Any()
        any_detail.Pack(detail)
        packed.append(any_detail)
    return status_pb2.Status(code=code.value[0], message=message, details=packed)


class FakeServer(grpc.GenericRpcHandler):  # type: ignore[type-arg]
    """Answers each unary call with ``answer(method)``; records the method and the
    metadata of every call received."""

    def __init__(
        self,
        answer: Callable[[str], Answer],
        credentials: grpc.ServerCredentials | None = None,
    ) -> None:
        self.answer = answer
        self.calls: list[tuple[str, dict[str, str]]] = []
        self._lock = threading.Lock()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        self._server.add_generic_rpc_handlers((self,))
        if credentials is None:
            port = self._server.add_insecure_port("127.0.0.1:0")
        else:
            port = self._server.add_secure_port("127.0.0.1:0", credentials)
        self.address = f"localhost:{port}"
        self._server.start()

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> Any:
        method: str = handler_call_details.method

        def behavior(request: bytes, context: grpc.ServicerContext) -> bytes:
            metadata = {key: str(value) for key, value in context.invocation_metadata()}
            with self._lock:
                self.calls.append((method, metadata))
            answer = self.answer(method)
            if isinstance(answer, status_pb2.Status):
                context.abort_with_status(rpc_status.to_status(answer))
            serialized: bytes = answer.SerializeToString()
            return serialized

        return grpc.unary_unary_rpc_method_handler(behavior)

    def methods(self) -> list[str]:
        return [method.rsplit("/", 1)[1] for method, _ in self.calls]

    def stop(self) -> None:
        self._server.stop(None)
