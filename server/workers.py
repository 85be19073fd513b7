"""``MEMORIA_WORKERS=N``: N server processes on one port, one per core.

The parent checks that no other program holds the port, then keeps it with a
socket of its own bound with ``SO_REUSEPORT`` (never listening), so that only
its workers can join it; each worker is a whole server (store connection,
summary worker: the summary leases already let several fold safely) that binds
the same port with ``SO_REUSEPORT``, and the kernel spreads connections over
them. SIGTERM or SIGINT to the parent drains every worker.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from types import FrameType

from server.config import Settings
from server.listen_address import check_listen_address, check_port_free, reserve_port

__all__ = ["run_workers"]

log = logging.getLogger("memoria")


def run_workers(settings: Settings, serve_one: Callable[[Settings, int], None]) -> int:
    """Runs ``settings.workers`` processes of ``serve_one(settings, number)`` on one
    port until SIGTERM or SIGINT; the exit code is the worst of theirs."""
    host, _ = check_listen_address(settings.listen, api_keys=settings.auth == "api-key")
    check_port_free(settings.listen)
    with reserve_port(settings.listen) as reserved:
        port: int = reserved.getsockname()[1]
        shared = settings.model_copy(update={"listen": f"{host}:{port}", "workers": 1})
        context = multiprocessing.get_context("spawn")
        workers: list[BaseProcess] = [
            context.Process(target=serve_one, args=(shared, number), name=f"worker-{number}")
            for number in range(1, settings.workers + 1)
        ]
        log.info("starting %d workers on %s:%d", len(workers), host, port)

        def forward(signum: int, frame: FrameType | None) -> None:
            for worker in workers:
                if worker.pid is not None and worker.is_alive():
                    worker.terminate()  # SIGTERM: each drains its calls

        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, forward)
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    codes = [worker.exitcode or 0 for worker in workers]
    return max(codes, key=abs)
