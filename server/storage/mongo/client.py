"""The PyMongo asyncio client, configured from the store URL to fail fast."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConfigurationError as PyMongoConfigurationError

from server.domain.errors import ConfigurationError
from server.storage.mongo.documents import Document

__all__ = ["DEFAULT_DATABASE", "DEFAULT_OPTIONS", "connect"]

DEFAULT_DATABASE = "memoria"

# While the database is unreachable an RPC should fail with UNAVAILABLE in about
# two seconds, not hang for PyMongo's defaults (30 s to select a server, 20 s to
# connect). socketTimeoutMS bounds an operation on a server that stopped
# answering without closing its connections. A URL option of the same name wins.
DEFAULT_OPTIONS: dict[str, int] = {
    "serverSelectionTimeoutMS": 2000,
    "connectTimeoutMS": 2000,
    "socketTimeoutMS": 30000,
}


def connect(url: str) -> tuple[AsyncMongoClient[Document], AsyncDatabase[Document]]:
    """A client for ``mongodb://`` or ``mongodb+srv://`` URLs and the database the
    URL's path names (``memoria`` when it names none). Connects lazily."""
    given = {key.lower() for key, _ in parse_qsl(urlsplit(url).query)}
    defaults: dict[str, Any] = {
        key: value for key, value in DEFAULT_OPTIONS.items() if key.lower() not in given
    }
    try:
        client: AsyncMongoClient[Document] = AsyncMongoClient(url, **defaults)
    except PyMongoConfigurationError as exc:  # InvalidURI is one
        raise ConfigurationError(f"invalid MongoDB store URL: {exc}") from exc
    return client, client.get_default_database(DEFAULT_DATABASE)
