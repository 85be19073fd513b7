"""A dropped connection costs nothing: a retried AddMemory or import stores nothing twice,
and a stream resumes after a server restart without gap or repeat. The client talks to
the server through a proxy that cuts connections on cue."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from memoria_client import AsyncMemoriaClient, MemoriaClient, Message

from bench.harness.server_process import ServerProcess
from tests.client.proxy import Proxy
from tests.support.stores import StoreUrls


@pytest.fixture
def store_url(client_store_urls: StoreUrls) -> str:
    return client_store_urls.fresh("sqlite")


@pytest.fixture
def server(store_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    server = ServerProcess(store_url, tmp_path / "first").start()
    yield server
    server.stop()


@pytest.fixture
def proxy(server: ServerProcess) -> Iterator[Proxy]:
    proxy = Proxy(server.address)
    yield proxy
    proxy.close()


def numbered(count: int, start: int = 0) -> list[Message]:
    return [Message(role_type="user", content=f"message {n}") for n in range(start, start + count)]


def test_add_memory_whose_answer_is_lost_is_retried_and_stored_once(
    server: ServerProcess, proxy: Proxy
) -> None:
    session_id = f"cut-{uuid.uuid4().hex}"
    marker = f"answer-of-{uuid.uuid4().hex}"
    message_uuid = str(uuid.uuid4())
    with MemoriaClient(proxy.address) as client:
        client.memory.add_memory(session_id, numbered(1))  # connected
        # The answer names the message's uuid (it carries no content: MESSAGE_VIEW_BASIC).
        proxy.cut_on(message_uuid.encode())

        # The server stores the message, and the connection drops as its answer comes back.
        stored = client.memory.add_memory(
            session_id, [Message(role_type="user", content=marker, uuid=message_uuid)]
        )

        assert proxy.cut.is_set()
        # Both attempts reached the server.
        assert len(server.wait_for_access_log("AddMemory", 3)) == 3
        assert [m.content for m in client.memory.list_messages(session_id)] == [
            "message 0",
            marker,
        ]
        assert stored[0].sequence == 2


def test_import_whose_answer_is_lost_is_retried_and_stored_once(
    server: ServerProcess, proxy: Proxy
) -> None:
    session_id = f"cut-{uuid.uuid4().hex}"
    with MemoriaClient(proxy.address) as client, MemoriaClient(server.address) as direct:
        client.session.create(session_id)  # connected
        proxy.mute()  # the answer of the import will not come back

        with ThreadPoolExecutor(1) as pool:
            importing = pool.submit(client.memory.import_messages, session_id, numbered(50))
            deadline = time.monotonic() + 10
            while direct.session.get(session_id).message_count < 50:
                assert time.monotonic() < deadline, "the import was not stored"
                time.sleep(0.02)
            proxy.cut_muted()  # stored, answer lost: the client sends the call again
            result = importing.result(timeout=30)
        stored = direct.session.get(session_id).message_count

    assert len(server.wait_for_access_log("ImportMessages", 2)) == 2
    assert (result.received, result.stored, result.duplicates) == (50, 0, 50)
    assert stored == 50


def restart(
    server: ServerProcess, store_url: str, work_dir: Path, sig: int = signal.SIGKILL
) -> ServerProcess:
    """Stops the server (by default outright) and starts a new one on the same store."""
    server.stop(sig)
    return ServerProcess(store_url, work_dir).start()


def test_stream_resumes_after_the_server_restarts(
    server: ServerProcess, proxy: Proxy, store_url: str, tmp_path: Path
) -> None:
    session_id = f"restart-{uuid.uuid4().hex}"
    with MemoriaClient(proxy.address, max_retries=8) as client:
        client.memory.add_memory(session_id, numbered(30))
        stream = client.memory.stream_messages(session_id, follow=True, batch_size=7)
        before = [next(stream).sequence for _ in range(30)]

        second = restart(server, store_url, tmp_path / "second")
        try:
            proxy.upstream = second.address
            with MemoriaClient(second.address) as direct:
                direct.memory.add_memory(session_id, numbered(5, start=30))
            after = [next(stream).sequence for _ in range(5)]
            stream.close()
        finally:
            second.stop()

    assert before == list(range(1, 31))
    assert after == list(range(31, 36))  # nothing skipped, nothing repeated
    assert proxy.connections == 2


async def test_async_stream_resumes_after_a_graceful_restart(
    server: ServerProcess, proxy: Proxy, store_url: str, tmp_path: Path
) -> None:
    session_id = f"restart-{uuid.uuid4().hex}"
    async with AsyncMemoriaClient(proxy.address, max_retries=8) as client:
        await client.memory.add_memory(session_id, numbered(10))
        stream = client.memory.stream_messages(session_id, batch_size=3, follow=True)
        before = [(await anext(stream)).sequence for _ in range(10)]

        # Stopped with SIGTERM this time, as in a rolling restart.
        second = await asyncio.to_thread(
            restart, server, store_url, tmp_path / "second", signal.SIGTERM
        )
        try:
            proxy.upstream = second.address
            async with AsyncMemoriaClient(second.address) as direct:
                await direct.memory.add_memory(session_id, numbered(3, start=10))
            after = [(await anext(stream)).sequence for _ in range(3)]
            await stream.aclose()
        finally:
            second.stop()

    assert before + after == list(range(1, 14))
    assert proxy.connections == 2
