from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.clients import Stubs
from tests.support.server_process import ServerProcess
from tests.support.stores import STORE_KINDS, StoreUrls


@pytest.fixture(scope="session")
def store_urls(tmp_path_factory: pytest.TempPathFactory) -> StoreUrls:
    return StoreUrls(tmp_path_factory.mktemp("stores"))


@pytest.fixture(scope="session", params=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest.fixture(scope="session")
def server(
    store_kind: str, store_urls: StoreUrls, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """One real server per store kind, shared by the tests (each uses its own sessions)."""
    process = ServerProcess(store_urls.fresh(store_kind), tmp_path_factory.mktemp("server")).start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def stubs(server: ServerProcess) -> Iterator[Stubs]:
    stubs = Stubs.connect(server.address)
    yield stubs
    stubs.close()


@pytest.fixture
def session_id() -> str:
    return f"test-{uuid.uuid4().hex}"


@pytest.fixture
def work_dir(tmp_path: Path) -> Path:
    return tmp_path
