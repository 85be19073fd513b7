"""The gRPC layer's account of the calls in progress, which background work waits on."""

from __future__ import annotations

import math
import time

from server.domain.call_load import CallLoad


def test_streamed_responses_and_calls_in_progress_are_not_quiet() -> None:
    load = CallLoad()
    assert load.quiet_for(time.monotonic()) == math.inf  # nothing served yet
    load.streamed()
    assert load.quiet_for(time.monotonic()) < 1
    assert load.quiet_for(time.monotonic() + 5) > 4
    load.calls = 1
    assert load.quiet_for(time.monotonic() + 5) == 0
