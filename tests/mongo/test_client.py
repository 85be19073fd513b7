"""The MongoDB store's URL handling, and failing fast when the server is unreachable."""

from __future__ import annotations

import time

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from bench.harness.ferretdb import free_port
from server.domain.errors import Unavailable
from server.storage.mongo import MongoStore
from server.storage.mongo.client import connect
from server.storage.mongo.documents import Document
from server.storage.open import open_store
from tests.support.records import NOW, new_message


async def test_database_comes_from_the_url_path() -> None:
    """The URL's path names the database; without one it is "memoria"."""
    for url, name in [
        ("mongodb://127.0.0.1:1", "memoria"),
        ("mongodb://127.0.0.1:1/", "memoria"),
        ("mongodb://127.0.0.1:1/chat_memory?appName=x", "chat_memory"),
    ]:
        client, database = connect(url)
        assert database.name == name
        await client.close()


async def test_open_store_selects_mongodb_and_sets_up_indexes(
    mongo_url: str, raw: AsyncDatabase[Document]
) -> None:
    """open_store picks the MongoDB adapter for mongodb:// URLs and creates the indexes."""
    async with open_store(mongo_url) as store:
        assert isinstance(store, MongoStore)
        await store.append_messages("s1", [new_message()], NOW)
    async with open_store(mongo_url) as store:  # setup again: idempotent
        assert await store.get_session("s1") is not None
    message_indexes = await (await raw["messages"].list_indexes()).to_list()
    unique = {tuple(index["key"]) for index in message_indexes if index.get("unique")}
    assert unique == {("session_id", "sequence"), ("session_id", "uuid")}


async def test_unreachable_server_fails_fast_with_unavailable() -> None:
    """With nothing listening, operations raise Unavailable in about two seconds."""
    store = MongoStore.from_url(f"mongodb://127.0.0.1:{free_port()}/memoria")
    try:
        for operation in (store.ping(), store.get_session("s1")):
            started = time.monotonic()
            with pytest.raises(Unavailable):
                await operation
            assert time.monotonic() - started < 5
    finally:
        await store.close()


async def test_url_options_override_the_default_timeouts() -> None:
    """serverSelectionTimeoutMS in the URL wins over the adapter's default."""
    url = f"mongodb://127.0.0.1:{free_port()}/memoria?serverSelectionTimeoutMS=200"
    store = MongoStore.from_url(url)
    started = time.monotonic()
    with pytest.raises(Unavailable, match="ServerSelectionTimeoutError"):
        await store.append_messages("s1", [new_message()], NOW)
    assert time.monotonic() - started < 1.5
    await store.close()
