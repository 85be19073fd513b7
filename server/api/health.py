"""grpc.health.v1.Health, driven by probes of the store."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from grpc_health.v1 import health, health_pb2

__all__ = ["SUMMARIZER_SERVICE", "StoreHealth"]

log = logging.getLogger("memoria.health")

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
# Health-only name (no such RPC service): NOT_SERVING while the summarizer fails.
# Messages are still stored and served meanwhile, so the main services stay SERVING.
SUMMARIZER_SERVICE = "memoria.v1.Summarizer"


class StoreHealth:
    """Reports SERVING for the server ("") and each service while the store answers,
    and the status that other components report under their own names."""

    def __init__(
        self, ping: Callable[[], Awaitable[None]], services: Sequence[str], interval: float
    ) -> None:
        """``ping`` returns when the store answers and raises otherwise."""
        # grpc-stubs does not know the asyncio servicer.
        self.servicer = health.aio.HealthServicer()  # type: ignore[attr-defined]
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
