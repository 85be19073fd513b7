"""Running one server process until SIGINT or SIGTERM (``python -m server``, or one
of its ``MEMORIA_WORKERS``)."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys
from collections.abc import Coroutine
from typing import Any

from server.app import running_server
from server.config import Settings
from server.domain.errors import ConfigurationError
from server.log_writer import BatchingStreamHandler, SecondCachingFormatter
from server.thread_scheduling import keep_other_threads_deferred

__all__ = ["configure_logging", "run_event_loop", "serve", "serve_worker"]

log = logging.getLogger("memoria")


async def serve(settings: Settings, *, share_port: bool = False) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with running_server(settings, share_port=share_port):
        # What start-up loaded (the embedding model, protobuf descriptors, modules)
        # lives as long as the process: out of the collector's sight, a full
        # collection takes under a millisecond instead of 20-40 ms, a pause for
        # every call in flight.
        gc.collect()
        gc.freeze()
        deferring = asyncio.create_task(keep_other_threads_deferred())
        await stop.wait()
        deferring.cancel()


def run_event_loop(settings: Settings, main: Coroutine[Any, Any, None]) -> None:
    """Runs ``main`` to completion on the event loop that ``settings`` name."""
    if settings.event_loop == "uvloop":
        try:
            import uvloop
        except ImportError:  # e.g. on Windows, where uvloop does not exist
            log.warning("uvloop is not installed: running on asyncio's event loop")
        else:
            uvloop.run(main)
            return
    asyncio.run(main)


def configure_logging(settings: Settings, worker: int | None = None) -> None:
    """Logs go to stderr, written by a thread of their own (``BatchingStreamHandler``):
    the access log makes a line per call."""
    tag = "" if worker is None else f"[worker {worker}] "
    to_stderr = BatchingStreamHandler(sys.stderr)
    to_stderr.setFormatter(
        SecondCachingFormatter(f"%(asctime)s %(levelname)s %(name)s {tag}%(message)s")
    )
    # What the format does not show is not gathered for each record (the logging
    # HOWTO's "Optimization"): the caller's frame, thread and process.
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    # DEBUG is Memoria's own detail: the libraries' debug logs (PyMongo's hold every
    # command, message contents included) stay at INFO.
    logging.basicConfig(level=max(logging.INFO, _level(settings.log_level)), handlers=[to_stderr])
    logging.getLogger("memoria").setLevel(settings.log_level)
    logging.getLogger("memoria.access").disabled = not settings.access_log


def _level(name: str) -> int:
    return logging.getLevelNamesMapping()[name]


def serve_worker(settings: Settings, number: int) -> None:
    """One process of ``MEMORIA_WORKERS``: a whole server on the shared port."""
    configure_logging(settings, number)
    try:
        run_event_loop(settings, serve(settings, share_port=True))
    except ConfigurationError as exc:
        logging.getLogger("memoria").error("%s", exc)
        sys.exit(2)
