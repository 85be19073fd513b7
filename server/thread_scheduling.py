"""The event loop's thread first: the process's other threads do not preempt it.

Every call runs on the event loop's thread, and it wakes the process's other
threads all the time: gRPC's poller, the SQLite writer, the log writer, a
thread waiting for the GIL. On Linux a woken thread often takes the waker's
core at once, and the loop waits for it to give the core back. Under load that
cost ~9 % of the server's CPU per call (``docs/performance.md``). A thread
under ``SCHED_BATCH`` gets the same share of the CPU but does not preempt on
waking: it runs on an idle core, or once the loop waits, or at the next tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading

__all__ = ["defer_other_threads", "keep_other_threads_deferred"]

# Threads started later (a thread pool's first task, a driver's monitor) are
# found at the next look.
_LOOK_AGAIN_SECONDS = 10.0


def defer_other_threads() -> int:
    """Puts every thread of this process except the calling one under
    ``SCHED_BATCH``; returns how many it changed. Does nothing where the
    policy does not exist (outside Linux) or may not be set."""
    batch = getattr(os, "SCHED_BATCH", None)
    if batch is None:
        return 0
    caller = threading.get_native_id()
    changed = 0
    with contextlib.suppress(OSError):
        for name in os.listdir("/proc/self/task"):
            thread = int(name)
            if thread == caller:
                continue
            # A thread may end between the listing and here; a sandbox may refuse.
            with contextlib.suppress(OSError):
                if os.sched_getscheduler(thread) != batch:
                    os.sched_setscheduler(thread, batch, os.sched_param(0))
                    changed += 1
    return changed


async def keep_other_threads_deferred() -> None:
    """Runs on the event loop until cancelled: ``defer_other_threads`` now and
    every few seconds after."""
    while True:
        defer_other_threads()
        await asyncio.sleep(_LOOK_AGAIN_SECONDS)
