"""Fixtures of the MongoDB adapter's own tests (they run against MongoDB only)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from bench.harness.ferretdb import database_url
from server.storage.mongo import MongoStore
from server.storage.mongo.documents import Document


@pytest.fixture
def mongo_url(mongodb_uri: str) -> str:
    """A database of its own on the test run's MongoDB server."""
    return database_url(mongodb_uri, f"memoria_test_{uuid.uuid4().hex[:16]}")


@pytest.fixture
async def raw(mongo_url: str) -> AsyncIterator[AsyncDatabase[Document]]:
    """The test's database through a client of its own, to set up odd states;
    dropped at the end."""
    client: AsyncMongoClient[Document] = AsyncMongoClient(mongo_url)
    database = client.get_default_database()
    yield database
    await client.drop_database(database.name)
    await client.close()


@pytest.fixture
async def store(mongo_url: str, raw: AsyncDatabase[Document]) -> AsyncIterator[MongoStore]:
    opened = MongoStore.from_url(mongo_url)
    await opened.setup()
    yield opened
    await opened.close()


@pytest.fixture
async def stores(mongo_url: str, store: MongoStore) -> AsyncIterator[list[MongoStore]]:
    """Four stores on one database, as four server processes would be."""
    others = [MongoStore.from_url(mongo_url) for _ in range(3)]
    yield [store, *others]
    for other in others:
        await other.close()
