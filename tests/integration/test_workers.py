"""MEMORIA_WORKERS=2: two processes on one port, one store, every guarantee kept."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from memoria.v1 import memory_service_pb2 as pb

from bench.harness.requests import message
from bench.harness.server_process import ServerProcess
from bench.harness.stubs import Stubs

pytestmark = pytest.mark.all_stores


@pytest.fixture
def store_url(store_kind: str, store_urls: Any) -> str:
    url: str = store_urls.fresh(store_kind)
    return url


def test_two_workers_share_the_port_and_store_each_message_once(
    store_url: str, tmp_path: Path
) -> None:
    server = ServerProcess(store_url, tmp_path, {"MEMORIA_WORKERS": "2"}).start()
    assert server.wait_for_log("[worker 1] listening on") and server.wait_for_log(
        "[worker 2] listening on"
    )
    # One connection per channel: the kernel spreads connections over the workers.
    channels = [Stubs.connect(server.address, own_connection=True) for _ in range(10)]
    batches = [[message(f"{b}:{i}", uuid=str(uuid.uuid4())) for i in range(3)] for b in range(100)]

    def send(number: int) -> None:
        stubs = channels[number % len(channels)]
        stubs.memory.AddMemory(
            pb.AddMemoryRequest(session_id="shared", messages=batches[number]), timeout=60
        )

    threads = [threading.Thread(target=send, args=(n,)) for n in range(len(batches))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    # Retrying every batch stores nothing twice, whichever worker takes it.
    for number in range(len(batches)):
        send(number)
    stored = (
        channels[0]
        .memory.ListMessages(pb.ListMessagesRequest(session_id="shared", page_size=1000))
        .messages
    )
    for stubs in channels:
        stubs.close()
    assert sorted(m.content for m in stored) == sorted(m.content for b in batches for m in b)
    for start in range(0, len(stored), 3):  # each batch contiguous
        assert len({m.content.split(":")[0] for m in stored[start : start + 3]}) == 1
    served = {w for w in ("[worker 1] /memoria", "[worker 2] /memoria") if server.wait_for_log(w)}
    assert len(served) == 2, "one worker took every connection"
    assert server.stop() == 0
    assert sum("[worker" in line and " stopped" in line for line in server.log) == 2
