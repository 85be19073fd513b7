"""The gRPC server: Memoria's three services, health and reflection on one port."""

from __future__ import annotations

from typing import cast

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from memoria.v1 import (
    memory_service_pb2,
    memory_service_pb2_grpc,
    session_service_pb2,
    session_service_pb2_grpc,
    user_service_pb2,
    user_service_pb2_grpc,
)

from server.api.authentication import Authenticate
from server.api.boundary import CallBoundary
from server.api.health import StoreHealth
from server.api.memory_servicer import MemoryServicer
from server.api.reflection import enable_reflection
from server.api.session_servicer import SessionServicer
from server.api.user_servicer import UserServicer
from server.domain.call_load import CallLoad
from server.domain.memory import MemoryManager
from server.domain.search.engine import SearchEngine
from server.domain.sessions import SessionManager
from server.domain.users import UserManager

__all__ = ["SERVICE_NAMES", "create_grpc_server"]

SERVICE_NAMES = [
    session_service_pb2.DESCRIPTOR.services_by_name["SessionService"].full_name,
    memory_service_pb2.DESCRIPTOR.services_by_name["MemoryService"].full_name,
    user_service_pb2.DESCRIPTOR.services_by_name["UserService"].full_name,
]


def create_grpc_server(
    *,
    memory: MemoryManager,
    search: SearchEngine,
    sessions: SessionManager,
    users: UserManager,
    health: StoreHealth,
    authenticate: Authenticate,
    max_request_bytes: int,
    share_port: bool = False,
    load: CallLoad | None = None,
) -> grpc.aio.Server:
    """A server with every service registered; the caller adds a port and starts it.

    ``authenticate`` turns each call's ``authorization`` metadata into its caller
    (health and reflection excepted); ``load`` counts the calls in progress.
    """
    server = grpc.aio.server(
        options=[
            # Requests only: responses are bounded by the domain's response budget,
            # and reflection and health must never be cut by a request limit.
            ("grpc.max_receive_message_length", max_request_bytes),
            # gRPC sets SO_REUSEPORT by default: a second server on a busy port would
            # start silently and take half the calls. Only the workers of one
            # `--workers N` server share their port, deliberately.
            ("grpc.so_reuseport", 1 if share_port else 0),
        ],
    )
    # Every service goes through the boundary, which the generated code takes for a server.
    registrar = cast(grpc.Server, CallBoundary(server, authenticate, load))
    memory_service_pb2_grpc.add_MemoryServiceServicer_to_server(
        MemoryServicer(memory, search), registrar
    )
    session_service_pb2_grpc.add_SessionServiceServicer_to_server(
        SessionServicer(sessions), registrar
    )
    user_service_pb2_grpc.add_UserServiceServicer_to_server(UserServicer(users), registrar)
    health_pb2_grpc.add_HealthServicer_to_server(health.servicer, registrar)
    enable_reflection(
        registrar, [*SERVICE_NAMES, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name]
    )
    return server
