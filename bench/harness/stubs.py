"""Generated stubs bound to one channel."""

from __future__ import annotations

from dataclasses import dataclass

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
    def connect(cls, address: str) -> Stubs:
        channel = grpc.insecure_channel(address)
        grpc.channel_ready_future(channel).result(timeout=10)
        return cls(
            channel,
            memory_service_pb2_grpc.MemoryServiceStub(channel),
            session_service_pb2_grpc.SessionServiceStub(channel),
            user_service_pb2_grpc.UserServiceStub(channel),
            health_pb2_grpc.HealthStub(channel),
        )

    def close(self) -> None:
        self.channel.close()
