"""Composition root: settings → store → domain → servicers → server."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import cast

import grpc
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from memoria.v1 import (
    memory_service_pb2,
    memory_service_pb2_grpc,
    session_service_pb2,
    session_service_pb2_grpc,
    user_service_pb2,
    user_service_pb2_grpc,
)

from server.api.health import SUMMARIZER_SERVICE, StoreHealth
from server.api.interceptors import CallBoundary
from server.api.memory_servicer import MemoryServicer
from server.api.reflection import DocumentedPool
from server.api.session_servicer import SessionServicer
from server.api.user_servicer import UserServicer
from server.config import ConfigurationError, Settings
from server.domain.memory import MemoryManager
from server.domain.perpetual import SummaryWorker, WorkerSettings
from server.domain.sessions import SessionManager
from server.domain.summaries import SummaryFolder
from server.domain.users import UserManager
from server.domain.validation import Limits
from server.storage.open import open_store
from server.summarizers.open import open_summarizer
from server.tokens import TiktokenCounter, load_encoding

__all__ = ["RunningServer", "running_server"]

log = logging.getLogger("memoria")

SERVICE_NAMES = [
    session_service_pb2.DESCRIPTOR.services_by_name["SessionService"].full_name,
    memory_service_pb2.DESCRIPTOR.services_by_name["MemoryService"].full_name,
    user_service_pb2.DESCRIPTOR.services_by_name["UserService"].full_name,
]


@dataclass(frozen=True)
class RunningServer:
    server: grpc.aio.Server
    port: int
    health: StoreHealth


@asynccontextmanager
async def running_server(settings: Settings) -> AsyncIterator[RunningServer]:
    """Starts the server; on exit, shuts down gracefully and closes the store.

    Shutdown order: health turns NOT_SERVING, new calls are refused, in-flight
    calls get ``shutdown_grace`` seconds to finish, then the store closes.
    """
    host = _check_listen_address(settings.listen)
    counter = TiktokenCounter(load_encoding(settings.token_encoding, settings.tiktoken_cache_dir))
    limits = Limits(
        max_content_bytes=settings.max_content_bytes,
        max_metadata_bytes=settings.max_metadata_bytes,
        max_messages_per_request=settings.max_messages_per_request,
    )
    async with (
        open_summarizer(settings, counter) as summarizer,
        open_store(settings.store_url) as store,
    ):
        server = grpc.aio.server(
            interceptors=[CallBoundary()],
            options=[
                ("grpc.max_receive_message_length", settings.max_request_bytes),
                ("grpc.max_send_message_length", settings.max_request_bytes),
            ],
        )
        health = StoreHealth(store, SERVICE_NAMES, settings.health_interval)
        sessions = SessionManager(store, limits)
        session_service_pb2_grpc.add_SessionServiceServicer_to_server(
            SessionServicer(sessions), server
        )
        user_service_pb2_grpc.add_UserServiceServicer_to_server(
            UserServicer(UserManager(store, sessions, limits)), server
        )
        worker = SummaryWorker(
            store,
            SummaryFolder(
                store,
                summarizer,
                counter,
                window=settings.window,
                chunk_tokens=settings.summary_chunk_tokens,
            ),
            WorkerSettings(
                lease_seconds=settings.summary_lease,
                retry_initial=settings.summary_retry_initial,
                retry_max=settings.summary_retry_max,
                concurrency=settings.summary_concurrency,
                duty_cycle=settings.summary_duty_cycle,
            ),
            window=settings.window,
            report_health=lambda serving: health.report(SUMMARIZER_SERVICE, serving),
        )
        memory = MemoryManager(
            store,
            counter,
            limits,
            settings.window,
            listener=worker,
            follow_poll_interval=settings.follow_poll_interval,
            import_write_batch=settings.import_write_batch,
        )
        memory_service_pb2_grpc.add_MemoryServiceServicer_to_server(MemoryServicer(memory), server)
        health_pb2_grpc.add_HealthServicer_to_server(health.servicer, server)
        reflection.enable_server_reflection(
            [
                *SERVICE_NAMES,
                health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                reflection.SERVICE_NAME,
            ],
            server,
            pool=cast(DescriptorPool, DocumentedPool()),
        )
        port = server.add_insecure_port(settings.listen)
        await health.start()
        await health.report(SUMMARIZER_SERVICE, True)
        await server.start()
        worker.start()
        log.info(
            "listening on %s:%d (store %s, window %d, encoding %s, summarizer %s)",
            host,
            port,
            settings.store_url,
            settings.window,
            counter.encoding_name,
            summarizer.name,
        )
        try:
            yield RunningServer(server, port, health)
        finally:
            log.info(
                "shutting down: draining in-flight calls for up to %ss", settings.shutdown_grace
            )
            await health.enter_graceful_shutdown()
            # Follow streams never end by themselves: end them now (UNAVAILABLE, with
            # their resume cursor) rather than make shutdown wait the whole grace period.
            memory.stop_following()
            await server.stop(settings.shutdown_grace)
            await worker.close()  # unfinished folds resume at the next start
            log.info("stopped")


def _check_listen_address(listen: str) -> str:
    """The host of ``listen``; refuses anything but loopback while no API key guards it."""
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigurationError(f"MEMORIA_LISTEN must be host:port, got {listen!r}")
    bare_host = host.strip("[]")
    if bare_host != "localhost":
        try:
            loopback = ipaddress.ip_address(bare_host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ConfigurationError(
                f"refusing to listen on {listen}: without API keys Memoria serves loopback only"
            )
    return host
