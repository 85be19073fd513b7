"""grpc.health.v1.Health, driven by probes of the store."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2

__all__ = ["EMBEDDER_SERVICE", "SUMMARIZER_SERVICE", "StoreHealth"]

log = logging.getLogger("memoria.health")

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
# Health-only name (no such RPC service): NOT_SERVING while the summarizer fails.
# Messages are still stored and served meanwhile, so the main services stay SERVING.
SUMMARIZER_SERVICE = "memoria.v1.Summarizer"
# Likewise NOT_SERVING while the embedder fails: keyword search and every write go on,
# semantic indexing waits for it.
EMBEDDER_SERVICE = "memoria.v1.Embedder"


class StoreHealth:
    """Reports SERVING for the server ("") and each service while the store answers,
    and the status that other components report under their own names."""

    def __init__(
        self, ping: Callable[[], Awaitable[None]], services: Sequence[str], interval: float
    ) -> None:
        """``ping`` returns when the store answers and raises otherwise."""
        self.servicer = _HealthServicer()
        self._ping = ping
        self._names = ["", *services]
        self._interval = interval
        self._healthy: bool | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.probe()
        self._task = asyncio.create_task(self._probe_forever(), name="store-health")

    async def probe(self) -> bool:
        try:
            await asyncio.wait_for(self._ping(), timeout=self._interval)
            healthy = True
        except Exception as exc:  # Unavailable, a timeout, or anything else: never kill the prober
            healthy = False
            if self._healthy is not False:
                log.warning("store unavailable: %s", exc or type(exc).__name__)
        if healthy != self._healthy:
            if healthy and self._healthy is False:
                log.info("store available again")
            await self._set(SERVING if healthy else NOT_SERVING)
            self._healthy = healthy
        return healthy

    async def report(self, name: str, serving: bool) -> None:
        """Sets the status of a component that has its own health name."""
        await self.servicer.set(name, SERVING if serving else NOT_SERVING)

    async def enter_graceful_shutdown(self) -> None:
        """NOT_SERVING from now on, so load balancers stop sending calls."""
        await self._stop_probing()
        await self.servicer.enter_graceful_shutdown()
        await self.servicer.end_watches()

    async def _stop_probing(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _probe_forever(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.probe()

    async def _set(self, status: health_pb2.HealthCheckResponse.ServingStatus.ValueType) -> None:
        for name in self._names:
            await self.servicer.set(name, status)


# grpc-stubs does not know the asyncio servicer.
class _HealthServicer(health.aio.HealthServicer):  # type: ignore[name-defined,misc]
    """grpcio-health-checking's servicer, whose Watch streams end at shutdown: once a
    watcher has received NOT_SERVING it gets UNAVAILABLE, instead of holding the
    server's shutdown for the whole grace period."""

    def __init__(self) -> None:
        super().__init__()
        self._shutting_down = asyncio.Event()

    async def Watch(self, request: health_pb2.HealthCheckRequest, context: Any) -> None:
        watched = _WatchedContext(context)
        watching = asyncio.ensure_future(super().Watch(request, watched))
        shutdown = asyncio.ensure_future(self._shutting_down.wait())
        try:
            await asyncio.wait({watching, shutdown}, return_when=asyncio.FIRST_COMPLETED)
            if watching.done():
                watching.result()  # the watcher's own end, or its error
                return
            # Let the NOT_SERVING of the shutdown reach the watcher first.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(watched.not_serving_sent.wait(), _LAST_WORD_SECONDS)
        finally:
            for task in (watching, shutdown):
                task.cancel()
            await asyncio.gather(watching, shutdown, return_exceptions=True)
        await context.abort(grpc.StatusCode.UNAVAILABLE, "the server is shutting down")

    async def end_watches(self) -> None:
        self._shutting_down.set()


# How long a watcher may take to receive the last status at shutdown.
_LAST_WORD_SECONDS = 1.0


class _WatchedContext:
    """A servicer context that notes when NOT_SERVING was written."""

    def __init__(self, context: Any) -> None:
        self._context = context
        self.not_serving_sent = asyncio.Event()

    async def write(self, response: health_pb2.HealthCheckResponse) -> None:
        await self._context.write(response)
        if response.status == NOT_SERVING:
            self.not_serving_sent.set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)
