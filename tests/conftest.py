from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymongo import MongoClient

from bench.harness.ferretdb import FerretDB, external_mongodb_uri, ferretdb_binary
from bench.harness.server_process import ServerProcess
from bench.harness.stubs import Stubs
from tests.support.stores import STORE_KINDS, StoreUrls


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "all_stores: run on every store kind (default for tests/contract); other tests"
        " that take a store or a server run on SQLite only, being store-agnostic",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Gives ``store_kind`` its values: every kind under test for the contract suite
    and for tests marked ``all_stores``, SQLite alone for the rest."""
    if "store_kind" not in metafunc.fixturenames:
        return
    every_kind = metafunc.definition.get_closest_marker("all_stores") is not None or (
        metafunc.module.__name__.startswith("tests.contract.")
    )
    kinds = STORE_KINDS if every_kind else ["sqlite"]
    metafunc.parametrize("store_kind", kinds, scope="session")


@pytest.fixture(scope="session")
def store_urls(
    store_kind: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[StoreUrls]:
    """Fresh store URLs of the kind under test; the MongoDB server starts only when needed."""
    mongodb_uri: str | None = None
    if store_kind == "mongodb":
        mongodb_uri = request.getfixturevalue("mongodb_uri")
    urls = StoreUrls(tmp_path_factory.mktemp("stores"), mongodb_uri)
    yield urls
    if mongodb_uri is not None and mongodb_uri == external_mongodb_uri():
        # FerretDB's data goes with its temporary directory; a real server's stays.
        client: MongoClient[dict[str, object]]
        with MongoClient(mongodb_uri, serverSelectionTimeoutMS=5000) as client:
            for database in urls.mongodb_databases:
                client.drop_database(database)


@pytest.fixture(scope="session")
def ferretdb_path() -> Path:
    """The FerretDB binary, built when missing."""
    return ferretdb_binary()


@pytest.fixture(scope="session")
def mongodb_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The MongoDB server of this test run: ``MEMORIA_TEST_MONGODB_URI``, or FerretDB."""
    external = external_mongodb_uri()
    if external is not None:
        yield external
        return
    ferretdb = FerretDB(ferretdb_binary(), tmp_path_factory.mktemp("ferretdb")).start()
    yield ferretdb.uri
    ferretdb.stop()


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
