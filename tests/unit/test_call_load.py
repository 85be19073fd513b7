"""The gRPC layer's account of the calls in progress, which background work waits on."""

from __future__ import annotations

import math
import time

from server.domain.call_load import ALONE_AFTER, PATIENCE, CallLoad


def test_streamed_responses_and_calls_in_progress_are_not_quiet() -> None:
    load = CallLoad()
    assert load.quiet_for(time.monotonic()) == math.inf  # nothing served yet
    load.streamed()
    assert load.quiet_for(time.monotonic()) < 1
    assert load.quiet_for(time.monotonic() + 5) > 4
    load.calls = 1
    assert load.quiet_for(time.monotonic() + 5) == 0


def test_a_call_is_alone_only_when_none_other_is_in_progress_or_just_ended() -> None:
    load = CallLoad()
    load.calls = 1  # the caller's own
    assert load.alone()
    load.calls = 2
    assert not load.alone()
    now = time.monotonic()
    load.ended(now)  # the other one ends: calls follow each other back to back
    assert not load.alone(now + ALONE_AFTER / 2)
    assert load.alone(now + ALONE_AFTER * 2)


async def test_a_pause_past_its_deadline_answers_at_once_whether_calls_are_quiet() -> None:
    """Once ``until`` has passed, ``pause`` only looks: True when quiet, False during a call."""
    load = CallLoad()
    long_ago = time.monotonic() - 10  # the last append
    passed = time.monotonic() - 1
    started = time.monotonic()
    assert await load.pause(lambda: long_ago, until=passed)
    load.calls = 1
    assert not await load.pause(lambda: long_ago, until=passed)
    assert time.monotonic() - started < PATIENCE  # neither waited out a patience
