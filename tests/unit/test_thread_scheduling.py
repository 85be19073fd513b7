"""Other threads give way to the event loop's (Linux scheduling policy)."""

from __future__ import annotations

import os
import threading

from server.thread_scheduling import defer_other_threads


def test_other_threads_go_under_batch_and_the_caller_does_not() -> None:
    started, finish = threading.Event(), threading.Event()

    def wait() -> None:
        started.set()
        finish.wait(10)

    other = threading.Thread(target=wait)
    other.start()
    started.wait(10)
    try:
        caller_policy = os.sched_getscheduler(0)
        assert caller_policy != os.SCHED_BATCH
        assert other.native_id is not None
        assert os.sched_getscheduler(other.native_id) != os.SCHED_BATCH

        assert defer_other_threads() >= 1
        assert os.sched_getscheduler(other.native_id) == os.SCHED_BATCH
        assert os.sched_getscheduler(0) == caller_policy
        assert defer_other_threads() == 0  # nothing left to change
    finally:
        finish.set()
        other.join(10)
