"""Chooses the storage adapter from the store URL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from server.domain.call_load import CallLoad
from server.domain.errors import ConfigurationError
from server.domain.ports.storage import Storage

__all__ = ["open_store"]


@asynccontextmanager
async def open_store(url: str, load: CallLoad | None = None) -> AsyncIterator[Storage]:
    """Opens the store named by ``url``, runs its idempotent setup, closes it on exit.

    ``sqlite:///path`` selects the embedded SQLite adapter; ``mongodb://`` and
    ``mongodb+srv://`` select MongoDB. ``load``: the calls the server is serving
    (SQLite writes a call that is alone at once, on the event loop).
    """
    store: Storage
    if url.startswith("sqlite:"):
        from server.storage.sqlite import SqliteStore

        store = SqliteStore.from_url(url, load)
    elif url.startswith(("mongodb://", "mongodb+srv://")):
        from server.storage.mongo import MongoStore

        store = MongoStore.from_url(url)
    else:
        raise ConfigurationError(
            f"unsupported store URL {url!r}: use sqlite:///path/to/file.db"
            " or mongodb://host:port/database"
        )
    try:
        await store.setup()
        yield store
    finally:
        await store.close()
