"""SearchMemory through a live server: searching once indexing has caught up."""

from __future__ import annotations

import time

from memoria.v1 import memory_service_pb2 as pb

from bench.harness.stubs import Stubs

__all__ = ["search_indexed"]


def search_indexed(
    stubs: Stubs, request: pb.SearchMemoryRequest, timeout: float = 60.0
) -> pb.SearchMemoryResponse:
    """The answer to ``request`` once every message in scope is indexed (indexing runs
    in the background, moments after a write)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = stubs.memory.SearchMemory(request)
        if answer.unindexed_messages == 0 or time.monotonic() > deadline:
            assert answer.unindexed_messages == 0, "indexing did not catch up"
            return answer
        time.sleep(0.05)
