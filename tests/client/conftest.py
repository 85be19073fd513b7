"""Fixtures of the client tests: one live server on SQLite for the suite (the client
does not care which store answers), and clients of it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from memoria_client import AsyncMemoriaClient, MemoriaClient

from bench.harness.server_process import ServerProcess
from tests.support.stores import StoreUrls


@pytest.fixture(scope="session")
def client_store_urls(tmp_path_factory: pytest.TempPathFactory) -> StoreUrls:
    return StoreUrls(tmp_path_factory.mktemp("client-stores"))


@pytest.fixture(scope="session")
def live_server(
    client_store_urls: StoreUrls, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A real server on a fresh SQLite store, shared by the client tests."""
    server = ServerProcess(
        client_store_urls.fresh("sqlite"), tmp_path_factory.mktemp("client-server")
    ).start()
    yield server
    server.stop()


@pytest.fixture
def client(live_server: ServerProcess) -> Iterator[MemoriaClient]:
    with MemoriaClient(live_server.address) as client:
        yield client


@pytest.fixture
async def aclient(live_server: ServerProcess) -> AsyncIterator[AsyncMemoriaClient]:
    async with AsyncMemoriaClient(live_server.address) as client:
        yield client
